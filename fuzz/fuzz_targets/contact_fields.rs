//! Phone numbers and email addresses as people type them. A number that parses must read back
//! from its stored form as the same number; a normalised address must normalise to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_domain::email;
use roster_domain::phone::{self, Phone, Region};

/// Regions with different national prefixes and number lengths.
const REGIONS: [&str; 8] = ["US", "GB", "DE", "FR", "JP", "IN", "BR", "AU"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let region = Region::parse(REGIONS[usize::from(selector) % REGIONS.len()]).unwrap();
    let text = String::from_utf8_lossy(rest);

    if let Ok(phone) = Phone::parse(&text, region) {
        let stored = phone.stored();
        let again = Phone::from_stored(&stored);
        assert_eq!(again.as_ref().map(Phone::stored), Some(stored.clone()), "{text:?} stored as {stored:?}");
        let _ = phone.international();
        let _ = phone::with_country_code_apart(&stored);
    }
    let _ = phone::optional("mobile_phone", "Mobile phone", &text, region);

    if let Ok(address) = email::normalise(&text) {
        assert_eq!(email::normalise(&address), Ok(address.clone()), "{text:?}");
        let _ = email::key(&address);
    }
});
