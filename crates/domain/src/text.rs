//! Rules shared by every free-text field: trimming, length limits, no control characters and
//! no invisible characters.

use unicode_normalization::char::canonical_combining_class;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::FieldError;

/// The canonical combining class of a virama, after which the joiners are part of spelling.
const VIRAMA: u8 = 9;

/// Whether a character shows nothing or changes how the text around it is ordered or joined:
/// Unicode's format characters (bidirectional overrides and isolates, zero-width spaces and
/// joiners, the byte-order mark, soft hyphens) and the fillers that render as blank. Two values
/// that differ only in such characters look identical, and an override can make `exe.txt`
/// display as `txt.exe`.
pub fn is_hidden(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
        || matches!(c, '\u{34F}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}')
}

/// The first hidden character of `value` (see [`is_hidden`]), except where a name is spelled
/// with one (after RFC 5892's rules for the joiners in domain names): the zero-width joiner or
/// non-joiner right after a virama (Devanagari, Malayalam and the other Indic scripts), and the
/// non-joiner between two Arabic-script letters (Persian and Kurdish keep a word's parts apart
/// with it). Both change how the letters around them look, so they hide nothing.
pub fn hidden_in_display_text(value: &str) -> Option<char> {
    let chars: Vec<char> = value.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let after_virama = previous.is_some_and(|p| canonical_combining_class(p) == VIRAMA);
        let between_arabic = previous.is_some_and(is_arabic_letter) && next.is_some_and(is_arabic_letter);
        let spelling = match c {
            '\u{200D}' => after_virama,
            '\u{200C}' => after_virama || between_arabic,
            _ => false,
        };
        if is_hidden(c) && !spelling {
            return Some(c);
        }
    }
    None
}

/// A letter of the Arabic script's blocks, which Persian, Urdu and Kurdish are written in.
fn is_arabic_letter(c: char) -> bool {
    matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{08A0}'..='\u{08FF}' | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFC}')
        && c.general_category() == GeneralCategory::OtherLetter
}

fn hidden_error(field: &str, label: &str, c: char) -> FieldError {
    FieldError::new(
        field,
        format!(
            "{label} can't contain invisible or text-direction characters (it has U+{:04X}): they can make \
             different values look the same.",
            c as u32
        ),
    )
}

/// Trims `raw` and checks it against `max` characters and the control-character rule.
///
/// Returns `None` for an empty (or all-blank) value.
pub fn optional(field: &str, label: &str, raw: &str, max: usize) -> Result<Option<String>, FieldError> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("{label} can't contain control characters such as tabs or line breaks."),
        ));
    }
    if let Some(c) = hidden_in_display_text(value) {
        return Err(hidden_error(field, label, c));
    }
    let length = value.chars().count();
    if length > max {
        return Err(FieldError::new(
            field,
            format!("{label} can be at most {max} characters long (this is {length})."),
        ));
    }
    Ok(Some(value.to_string()))
}

/// Like [`optional`], but an empty value is an error.
pub fn required(field: &str, label: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    optional(field, label, raw, max)?.ok_or_else(|| FieldError::new(field, format!("{label} is required.")))
}

/// Multi-line text (street addresses): line breaks allowed, other control characters not.
pub fn optional_multiline(field: &str, label: &str, raw: &str, max: usize) -> Result<Option<String>, FieldError> {
    let normalised = raw.replace("\r\n", "\n");
    let value = normalised.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FieldError::new(field, format!("{label} can't contain control characters.")));
    }
    if let Some(c) = hidden_in_display_text(value) {
        return Err(hidden_error(field, label, c));
    }
    let length = value.chars().count();
    if length > max {
        return Err(FieldError::new(
            field,
            format!("{label} can be at most {max} characters long (this is {length})."),
        ));
    }
    Ok(Some(value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_empties_to_none() {
        assert_eq!(optional("city", "City", "  Leeds ", 10).unwrap().as_deref(), Some("Leeds"));
        assert_eq!(optional("city", "City", "   ", 10).unwrap(), None);
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(optional("city", "City", "Zürich", 6).is_ok());
        let err = optional("city", "City", "Zürichs", 6).unwrap_err();
        assert_eq!(err.field, "city");
        assert!(err.message.contains("at most 6"));
    }

    #[test]
    fn refuses_control_characters() {
        let err = optional("city", "City", "Le\teds", 10).unwrap_err();
        assert!(err.message.contains("control characters"));
        assert!(optional("city", "City", "A\u{7}", 10).is_err());
    }

    #[test]
    fn required_refuses_blank() {
        let err = required("display_name", "Display name", " ", 256).unwrap_err();
        assert_eq!(err.message, "Display name is required.");
    }

    #[test]
    fn refuses_direction_overrides_and_zero_width_characters() {
        for spoof in
            ["Alex\u{202E}rebliW", "Al\u{200B}ex", "\u{2066}Alex\u{2069}", "Alex\u{FEFF}", "A\u{00AD}lex", "A\u{3164}"]
        {
            let err = optional("display_name", "Display name", spoof, 64).unwrap_err();
            assert!(err.message.contains("invisible"), "{spoof:?}: {}", err.message);
            assert!(optional_multiline("street", "Street address", spoof, 64).is_err(), "{spoof:?}");
        }
    }

    #[test]
    fn joiners_that_spell_a_name_are_kept() {
        // Devanagari KA, VIRAMA, ZWJ, SSA: the half form a Hindi name is written with.
        assert!(optional("display_name", "Display name", "\u{915}\u{94D}\u{200D}\u{937}", 64).is_ok());
        assert!(optional("display_name", "Display name", "Al\u{200D}ex", 64).is_err());
        // Persian: MIM, ZWNJ, KHAH (the "mi-" of a verb kept apart from what follows).
        assert!(optional("display_name", "Display name", "\u{645}\u{200C}\u{62E}", 64).is_ok());
        assert!(optional("display_name", "Display name", "Al\u{200C}ex", 64).is_err());
        assert!(optional("display_name", "Display name", "Zoë Ødegård 王秀英", 64).is_ok());
    }

    #[test]
    fn multiline_keeps_line_breaks() {
        let v = optional_multiline("street", "Street address", "1 Main St\r\nFloor 2", 100).unwrap();
        assert_eq!(v.as_deref(), Some("1 Main St\nFloor 2"));
        assert!(optional_multiline("street", "Street address", "a\u{0}b", 100).is_err());
    }
}
