//! Times as each person reads them: in the time zone they chose, from the IANA time zone
//! database built into Roster, so that a server or container without `tzdata` shows the same
//! times as any other.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Zoned;

use crate::clock::Timestamp;

/// The name under which a person's time zone is kept among their preferences.
pub const TIME_ZONE_PREFERENCE: &str = "time_zone";

/// The regions whose zones people choose among. The database's other names are kept for old
/// systems (`US/Eastern`, `Etc/GMT+5`) and would only lengthen the list; within the regions a
/// few older spellings remain beside the current ones (`Asia/Calcutta`, `Asia/Kolkata`), as
/// other systems' lists show them too.
const REGIONS: [&str; 9] =
    ["Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"];

/// A time zone of the IANA database, by its name.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Default for Zone {
    fn default() -> Self {
        Zone::utc()
    }
}

impl Zone {
    /// Coordinated Universal Time: what a person who chose no zone reads.
    pub fn utc() -> Zone {
        Zone { name: "UTC".into(), tz: TimeZone::UTC }
    }

    /// The zone a person may choose by `name`, such as `Europe/Paris` or `UTC`.
    pub fn named(name: &str) -> Option<Zone> {
        let name = name.trim();
        if name == "UTC" {
            return Some(Zone::utc());
        }
        let (region, _) = name.split_once('/')?;
        if !REGIONS.contains(&region) {
            return None;
        }
        let tz = TimeZone::get(name).ok()?;
        Some(Zone { name: tz.iana_name().unwrap_or(name).to_string(), tz })
    }

    /// Its name, as [`Zone::named`] takes it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether times shown here are UTC already.
    pub fn is_utc(&self) -> bool {
        self.name == "UTC"
    }

    /// `at` in this zone; `None` past the range of dates the database covers.
    fn zoned(&self, at: Timestamp) -> Option<Zoned> {
        jiff::Timestamp::from_millisecond(at.millis()).ok().map(|t| t.to_zoned(self.tz.clone()))
    }

    /// `at` as people in this zone read it, such as `2026-12-07 18:45 CET`.
    pub fn show(&self, at: Timestamp) -> String {
        self.zoned(at).map_or_else(|| at.display(), |z| z.strftime("%Y-%m-%d %H:%M %Z").to_string())
    }

    /// The day `at` falls on in this zone, `YYYY-MM-DD`, as [`Zone::day`] reads it.
    pub fn date(&self, at: Timestamp) -> String {
        self.zoned(at).map_or_else(|| at.day(), |z| z.date().to_string())
    }

    /// The first instant of the day `at` falls on in this zone.
    pub fn start_of_day(&self, at: Timestamp) -> Timestamp {
        self.zoned(at).and_then(|z| z.start_of_day().ok()).map_or(at, |z| millis_of(&z))
    }

    /// The day written `YYYY-MM-DD` in this zone: its first instant and the next day's.
    pub fn day(&self, text: &str) -> Option<(Timestamp, Timestamp)> {
        let date: Date = text.trim().parse().ok()?;
        let start = |d: Date| d.to_zoned(self.tz.clone()).ok().map(|z| millis_of(&z));
        Some((start(date)?, start(date.tomorrow().ok()?)?))
    }

    /// A date and time on the wall clock of this zone, `YYYY-MM-DDTHH:MM` (as a browser's
    /// date-time field sends it) or with a space; an hour skipped by a clock change reads as
    /// the instant after it.
    pub fn local_time(&self, text: &str) -> Option<Timestamp> {
        let civil: jiff::civil::DateTime = text.trim().replacen(' ', "T", 1).parse().ok()?;
        civil.to_zoned(self.tz.clone()).ok().map(|z| millis_of(&z))
    }

    /// Every zone a person may choose, by region, each region's in alphabetical order.
    pub fn choices() -> Vec<(&'static str, Vec<String>)> {
        let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
        names.sort();
        REGIONS
            .iter()
            .map(|region| {
                let prefix = format!("{region}/");
                (*region, names.iter().filter(|n| n.starts_with(&prefix)).cloned().collect())
            })
            .collect()
    }
}

/// The instant `zoned` names, as Roster keeps times.
fn millis_of(zoned: &Zoned) -> Timestamp {
    Timestamp(zoned.timestamp().as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_reads_in_the_chosen_zone_with_its_abbreviation() {
        // 2026-12-07 17:45 UTC.
        let at = Timestamp(1_796_665_500_000);
        assert_eq!(Zone::utc().show(at), "2026-12-07 17:45 UTC");
        assert_eq!(Zone::named("Europe/Paris").unwrap().show(at), "2026-12-07 18:45 CET");
        assert_eq!(Zone::named("America/New_York").unwrap().show(at), "2026-12-07 12:45 EST");
        // Summer time.
        assert_eq!(Zone::named("Europe/Paris").unwrap().show(Timestamp(1_781_000_000_000)), "2026-06-09 12:13 CEST");
    }

    #[test]
    fn only_zones_of_the_list_are_chosen() {
        assert_eq!(Zone::named(" Asia/Kolkata ").unwrap().name(), "Asia/Kolkata");
        for refused in ["", "Mars/Olympus", "US/Eastern", "Etc/GMT+5", "Europe/Atlantis", "europe/paris", "Local"] {
            assert!(Zone::named(refused).is_none(), "{refused}");
        }
        let choices = Zone::choices();
        assert_eq!(choices.len(), REGIONS.len());
        let europe = &choices.iter().find(|(r, _)| *r == "Europe").unwrap().1;
        assert!(europe.iter().any(|n| n == "Europe/Paris"));
        for (_, names) in &choices {
            assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted");
            assert!(names.iter().all(|n| Zone::named(n).is_some()), "every choice can be chosen");
        }
    }

    #[test]
    fn a_day_runs_from_its_local_midnight_to_the_next_even_across_a_clock_change() {
        let utc = Zone::utc();
        assert_eq!(utc.day("1970-01-02"), Some((Timestamp(86_400_000), Timestamp(2 * 86_400_000))));
        assert_eq!(utc.day("2026-02-30"), None);
        assert_eq!(utc.day("28/11/2026"), None);
        let paris = Zone::named("Europe/Paris").unwrap();
        assert_eq!(paris.date(Timestamp(1_796_684_400_000)), "2026-12-08", "23:00 UTC is tomorrow in Paris");
        assert_eq!(paris.day(&paris.date(Timestamp(1_796_684_400_000))).unwrap().0, Timestamp(1_796_684_400_000));
        let (start, end) = paris.day("2026-03-29").unwrap();
        assert_eq!(paris.show(start), "2026-03-29 00:00 CET");
        assert_eq!(end.millis() - start.millis(), 23 * 3_600_000, "the day the clocks go forward");
    }
}
