//! Rules shared by every free-text field: trimming, length limits, no control characters.

use crate::error::FieldError;

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
    fn multiline_keeps_line_breaks() {
        let v = optional_multiline("street", "Street address", "1 Main St\r\nFloor 2", 100).unwrap();
        assert_eq!(v.as_deref(), Some("1 Main St\nFloor 2"));
        assert!(optional_multiline("street", "Street address", "a\u{0}b", 100).is_err());
    }
}
