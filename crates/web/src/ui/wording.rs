//! Numbers in sentences, written one way on every page.

/// `n` followed by the noun, singular for one: "1 administrator", "3 administrators",
/// "12,400 users".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", number(n), if n == 1 { one } else { many })
}

/// `n` with its thousands grouped by commas: "12,400".
pub fn number(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `part` of `whole` as a whole percentage ("85%"), never rounded to 0% or 100% when it is not.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".into();
    }
    let exact = part as f64 * 100.0 / whole as f64;
    match exact.round() as u64 {
        0 if part > 0 => "<1%".into(),
        100 if part < whole => ">99%".into(),
        rounded => format!("{rounded}%"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1, "administrator lacks", "administrators lack"), "1 administrator lacks");
        assert_eq!(count(0, "user", "users"), "0 users");
        assert_eq!(count(2, "user", "users"), "2 users");
        assert_eq!(count(12_400, "user", "users"), "12,400 users");
        assert_eq!(number(999), "999");
        assert_eq!(number(1_000_000), "1,000,000");
    }

    #[test]
    fn percentages_are_whole_and_never_round_to_an_untrue_extreme() {
        assert_eq!(percent(1, 3), "33%");
        assert_eq!(percent(1, 2), "50%");
        assert_eq!(percent(3, 3), "100%");
        assert_eq!(percent(0, 3), "0%");
        assert_eq!(percent(1, 1000), "<1%");
        assert_eq!(percent(999, 1000), ">99%");
        assert_eq!(percent(0, 0), "0%");
    }
}
