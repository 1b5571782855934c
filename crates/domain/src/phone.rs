//! Phone numbers: parsed with libphonenumber's data, stored as E.164 plus extension.

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id as CountryId;
use phonenumber::Mode;

use crate::error::FieldError;

/// The organisation's default region for national-format input, e.g. `US` or `GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(CountryId);

impl Region {
    /// Parses an ISO 3166-1 alpha-2 code such as `US`.
    pub fn parse(code: &str) -> Option<Region> {
        CountryId::from_str(&code.trim().to_ascii_uppercase()).ok().map(Region)
    }

    /// The two-letter code.
    pub fn code(self) -> String {
        self.0.as_ref().to_string()
    }
}

impl Default for Region {
    fn default() -> Self {
        Region(CountryId::US)
    }
}

/// A valid phone number, possibly with an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    e164: String,
    extension: Option<String>,
    international: String,
}

impl Phone {
    /// Parses what a person typed, relative to `region` when it has no `+country` prefix.
    pub fn parse(input: &str, region: Region) -> Result<Phone, String> {
        let input = input.trim();
        // With a `+country` prefix the default region must play no part: the parser would
        // otherwise strip the default region's national prefix (a leading 1 for the US) from
        // numbers such as German mobiles (+49 151…).
        let default = (!input.starts_with('+')).then_some(region.0);
        let number = phonenumber::parse(default, input).map_err(|_| {
            let dialled = match example(region.0, Mode::National) {
                Some(local) => format!("as dialled in {}, such as {local}", region.code()),
                None => format!("as dialled in {}", region.code()),
            };
            format!("This is not a valid phone number. Type it with its country code, such as +44 20 7946 0958, or {dialled}.")
        })?;
        if !phonenumber::is_valid(&number) {
            // An invalid number has no region of its own: its calling code's main country stands in.
            let country = number.country().id().or_else(|| {
                let all = phonenumber::metadata::DATABASE.by_code(&number.country().code())?;
                let main = all.iter().find(|m| m.is_main_country_for_code()).or(all.first())?;
                main.id().parse().ok()
            });
            return Err(match country {
                Some(id) => match example(id, Mode::International) {
                    Some(shape) => format!(
                        "This is not a valid phone number for {}: it has too many or too few digits, or begins \
                         with digits no number there does. A mobile number there looks like {shape}.",
                        id.as_ref()
                    ),
                    None => format!("This is not a valid phone number for {}.", id.as_ref()),
                },
                None => "This is not a valid phone number.".to_string(),
            });
        }
        let extension = number.extension().map(|e| e.to_string()).filter(|e| !e.is_empty());
        Ok(Phone {
            e164: number.format().mode(Mode::E164).to_string(),
            international: number.format().mode(Mode::International).to_string(),
            extension,
        })
    }

    /// Rebuilds a number from its stored form (`+442079460958` or `+14255550100x123`).
    pub fn from_stored(stored: &str) -> Option<Phone> {
        Phone::parse(stored, Region::default()).ok()
    }

    /// The stored form: E.164, then `x` and the extension if there is one.
    pub fn stored(&self) -> String {
        match &self.extension {
            Some(ext) => format!("{}x{}", self.e164, ext),
            None => self.e164.clone(),
        }
    }

    /// International format for display, e.g. `+44 20 7946 0958 ext. 12`.
    pub fn international(&self) -> String {
        match &self.extension {
            Some(ext) if !self.international.contains(ext.as_str()) => {
                format!("{} ext. {}", self.international, ext)
            }
            _ => self.international.clone(),
        }
    }
}

/// libphonenumber's example mobile number of a country (its landline where it lists no mobile
/// example), written in `mode`: the shape an error message shows.
fn example(country: CountryId, mode: Mode) -> Option<String> {
    let metadata = phonenumber::metadata::DATABASE.by_id(country.as_ref())?;
    let descriptors = metadata.descriptors();
    let national = descriptors.mobile().and_then(|d| d.example()).or_else(|| descriptors.fixed_line()?.example())?;
    let number = phonenumber::parse(Some(country), national).ok()?;
    Some(number.format().mode(mode).to_string())
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.international())
    }
}

/// A stored number in the directory's `+{country code} {number}[x{extension}]` form (the form
/// Microsoft's directory and Graph's phone methods use), without parsing it again: country
/// calling codes are prefix-free, so the first one to two or three digits that is a known code
/// is the code. Listing a million users must not parse a million numbers.
pub fn with_country_code_apart(stored: &str) -> String {
    let (number, extension) = match stored.split_once('x') {
        Some((n, e)) => (n, Some(e)),
        None => (stored, None),
    };
    let digits = number.strip_prefix('+').unwrap_or(number);
    let code_length = (1..=3.min(digits.len())).find(|&n| {
        digits[..n].parse::<u16>().is_ok_and(|code| phonenumber::metadata::DATABASE.by_code(&code).is_some())
    });
    let mut out = match code_length {
        Some(n) if number.starts_with('+') => format!("+{} {}", &digits[..n], &digits[n..]),
        _ => number.to_string(),
    };
    if let Some(ext) = extension {
        out.push('x');
        out.push_str(ext);
    }
    out
}

/// Validates an optional phone field: blank means "no number".
pub fn optional(field: &str, label: &str, raw: &str, region: Region) -> Result<Option<Phone>, FieldError> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > 64 {
        return Err(FieldError::new(field, format!("{label} can be at most 64 characters long.")));
    }
    if let Some(c) = value.chars().find(|&c| crate::text::is_hidden(c)) {
        return Err(FieldError::new(
            field,
            format!("{label} can't contain invisible or text-direction characters (it has U+{:04X}).", c as u32),
        ));
    }
    Phone::parse(value, region).map(Some).map_err(|reason| FieldError::new(field, format!("{label}: {reason}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gb() -> Region {
        Region::parse("gb").unwrap()
    }

    #[test]
    fn accepts_international_input() {
        let p = Phone::parse("+44 20 7946 0958", Region::default()).unwrap();
        assert_eq!(p.stored(), "+442079460958");
        assert_eq!(p.international(), "+44 20 7946 0958");
    }

    #[test]
    fn accepts_national_input_for_the_default_region() {
        let us = Phone::parse("(201) 555-0123", Region::default()).unwrap();
        assert_eq!(us.stored(), "+12015550123");
        let uk = Phone::parse("020 7946 0958", gb()).unwrap();
        assert_eq!(uk.stored(), "+442079460958");
    }

    #[test]
    fn keeps_extensions() {
        let p = Phone::parse("+1 201-555-0123 x1234", Region::default()).unwrap();
        assert_eq!(p.stored(), "+12015550123x1234");
        assert!(p.international().contains("1234"));
        assert_eq!(Phone::from_stored(&p.stored()).unwrap(), p);
    }

    #[test]
    fn refuses_numbers_invalid_for_their_region() {
        let err = Phone::parse("+1 555 0100", Region::default()).unwrap_err();
        assert!(err.contains("not a valid phone number"), "{err}");
        let err = Phone::parse("+44 7911 12345", Region::default()).unwrap_err();
        assert!(err.contains("for GB") && err.contains("looks like +44 7400 123456"), "{err}");
        let err = Phone::parse("call me", gb()).unwrap_err();
        assert!(err.contains("as dialled in GB, such as 07400 123456"), "{err}");
        assert!(Phone::parse("123", gb()).is_err());
        assert!(Phone::parse("call me", Region::default()).is_err());
    }

    #[test]
    fn international_input_ignores_the_default_region() {
        let de = Phone::parse("+49 1513 7389275", Region::default()).unwrap();
        assert_eq!(de.stored(), "+4915137389275");
        assert_eq!(Phone::from_stored(&de.stored()).unwrap(), de);
    }

    #[test]
    fn stored_form_round_trips() {
        let p = Phone::parse("+81 3-1234-5678", Region::default()).unwrap();
        assert_eq!(Phone::from_stored(&p.stored()).unwrap(), p);
    }

    #[test]
    fn field_errors_name_the_field() {
        let err = optional("mobile_phone", "Mobile phone", "12", Region::default()).unwrap_err();
        assert_eq!(err.field, "mobile_phone");
        assert!(err.message.starts_with("Mobile phone:"));
        assert_eq!(optional("mobile_phone", "Mobile phone", " ", Region::default()).unwrap(), None);
    }

    #[test]
    fn regions_parse_case_insensitively() {
        assert_eq!(Region::parse("de").unwrap().code(), "DE");
        assert!(Region::parse("XX").is_none());
    }

    #[test]
    fn the_country_code_is_set_apart_without_parsing() {
        assert_eq!(with_country_code_apart("+14255550101"), "+1 4255550101");
        assert_eq!(with_country_code_apart("+442079460958x12"), "+44 2079460958x12");
        assert_eq!(with_country_code_apart("+35312345678"), "+353 12345678");
        assert_eq!(with_country_code_apart("+8613800138000"), "+86 13800138000");
        for stored in ["+14255550101", "+442079460958", "+35312345678", "+4915112345678", "+81312345678"] {
            let parsed = Phone::from_stored(stored).unwrap();
            let code = parsed.international().split(' ').next().unwrap().to_string();
            assert!(with_country_code_apart(stored).starts_with(&format!("{code} ")), "{stored}");
        }
    }
}
