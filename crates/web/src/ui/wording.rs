//! Numbers in sentences, written one way on every page.

/// `n` followed by the noun, singular for one: "1 administrator", "3 administrators".
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
