//! Each country's working calendar: which days of the week are working days, and which
//! dates are holidays. The slot finder (`slots`) reads it; a country's office edits it.
//!
//! A country with no stored calendar has CLDR's work week for its region, read from
//! ICU4X's compiled week data (Friday off in Iran, Friday and Saturday in Saudi Arabia and
//! Qatar, Saturday and Sunday in Russia and, since 2022, the UAE), and no holidays: no
//! maintained crate ships holiday data we could use offline under a licence we accept
//! (the `holidays` crate gives none), so holidays come from the office or from an
//! iCalendar file (`ics::holidays`). Holidays are OFFICIAL or ESTIMATED (a lunar holiday
//! awaiting the moon sighting); the finder treats ESTIMATED as soft whatever it is asked.

use std::collections::BTreeSet;

use chrono::{NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::Meta;
use crate::validate;

/// At most this many holidays per country.
pub const MAX_HOLIDAYS: usize = 2000;
/// Updatable fields.
pub const FIELDS: &[&str] = &["working_days", "holidays"];

/// How sure a holiday's date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub enum HolidayStatus {
    /// Announced.
    #[default]
    Official,
    /// Expected, not yet announced: always soft for the slot finder.
    Estimated,
}

/// One public holiday.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Holiday {
    /// The local date.
    pub date: NaiveDate,
    /// "Arbaeen".
    pub name: String,
    /// Official or estimated.
    pub status: HolidayStatus,
}

/// A set of weekdays: bit `d` is the day `d` days after Monday.
pub type Days = u8;

/// Every day of the week.
pub const ALL_DAYS: Days = 0x7f;

/// Whether `day` is in `days`.
pub fn has(days: Days, day: Weekday) -> bool {
    days & (1 << day.num_days_from_monday()) != 0
}

/// A country's working calendar, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkCalendar {
    /// ISO code; the id.
    pub country_code: String,
    /// The office's work week; `None`: CLDR's.
    pub working_days: Option<Days>,
    /// Holidays by date (then name), at most [`MAX_HOLIDAYS`].
    pub holidays: Vec<Holiday>,
    /// Version and timestamps; revision 0 while not stored.
    pub meta: Meta,
}

impl WorkCalendar {
    /// "work calendar", in messages.
    pub const KIND: &'static str = "work calendar";

    /// The calendar of a country that has none stored.
    pub fn default_for(code: &str) -> WorkCalendar {
        WorkCalendar {
            country_code: code.to_string(),
            working_days: None,
            holidays: Vec::new(),
            meta: Meta {
                revision: 0,
                create_time: 0,
                update_time: 0,
            },
        }
    }

    /// Whether this calendar is stored (not a default).
    pub fn is_stored(&self) -> bool {
        self.meta.revision > 0
    }

    /// The working days in force.
    pub fn days(&self) -> Days {
        self.working_days
            .unwrap_or_else(|| cldr_working_days(&self.country_code))
    }

    /// The holidays on `date` (usually none).
    pub fn on(&self, date: NaiveDate) -> &[Holiday] {
        let lo = self.holidays.partition_point(|h| h.date < date);
        let hi = lo + self.holidays[lo..].partition_point(|h| h.date == date);
        &self.holidays[lo..hi]
    }
}

/// CLDR's working days for a region (the complement of its weekend). An unknown region
/// gets CLDR's world default (Saturday and Sunday off).
pub fn cldr_working_days(region: &str) -> Days {
    use icu_calendar::week::WeekInformation;
    let locale: icu_locale_core::Locale = format!("und-{region}")
        .parse()
        .unwrap_or(icu_locale_core::Locale::UNKNOWN);
    let Ok(week) = WeekInformation::try_new((&locale).into()) else {
        return 0b0011111;
    };
    let mut days = ALL_DAYS;
    for d in week.weekend() {
        // ICU's weekday is ISO-numbered from Monday = 1.
        days &= !(1 << (d as u8 - 1));
    }
    days
}

/// The weekday of a day count from Monday.
pub fn weekday(n: u8) -> Weekday {
    Weekday::try_from(n % 7).unwrap_or(Weekday::Mon)
}

/// What a client sends.
#[derive(Debug, Clone, Default)]
pub struct WorkCalendarInput {
    /// ISO code.
    pub country_code: String,
    /// ISO weekday numbers (1 = Monday … 7 = Sunday); empty: CLDR's.
    pub working_days: Vec<i32>,
    /// (date, name, status) as sent.
    pub holidays: Vec<HolidayInput>,
    /// When set, must match.
    pub etag: String,
    /// AIP-155 idempotency key: a retry returns the first result.
    pub request_id: String,
}

/// A holiday as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct HolidayInput {
    /// "2024-10-24".
    pub date: String,
    /// Its name.
    pub name: String,
    /// Official unless said otherwise.
    pub status: HolidayStatus,
}

pub fn validated_days(field: &str, days: &[i32]) -> Result<Option<Days>> {
    if days.is_empty() {
        return Ok(None);
    }
    let mut set = 0u8;
    for (i, d) in days.iter().enumerate() {
        if !(1..=7).contains(d) {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!("{d} is not a weekday: use 1 (Monday) to 7 (Sunday)"),
            ));
        }
        set |= 1 << (d - 1);
    }
    Ok(Some(set))
}

pub fn validated_holidays(field: &str, input: &[HolidayInput]) -> Result<Vec<Holiday>> {
    if input.len() > MAX_HOLIDAYS {
        return Err(Error::invalid(
            field,
            format!(
                "{} holidays is more than the {MAX_HOLIDAYS} a calendar holds",
                input.len()
            ),
        ));
    }
    let mut out = BTreeSet::new();
    for (i, h) in input.iter().enumerate() {
        let date = crate::time::parse_date(h.date.trim()).map_err(|e| {
            Error::invalid(
                format!("{field}[{i}].date"),
                format!("{}: {e}", validate::shown(&h.date)),
            )
        })?;
        let name = validate::name(&format!("{field}[{i}].name"), &h.name)?;
        out.insert(Holiday {
            date,
            name,
            status: h.status,
        });
    }
    Ok(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cldr_work_weeks() {
        let days = |c| {
            (0..7)
                .filter(|d| cldr_working_days(c) & (1 << d) != 0)
                .map(|d| weekday(d).to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(days("RU"), "Mon Tue Wed Thu Fri");
        assert_eq!(days("IR"), "Mon Tue Wed Thu Sat Sun");
        assert_eq!(days("SA"), "Mon Tue Wed Thu Sun");
        assert_eq!(days("QA"), "Mon Tue Wed Thu Sun");
        assert_eq!(days("AE"), "Mon Tue Wed Thu Fri");
        assert_eq!(days("TM"), "Mon Tue Wed Thu Fri");
        assert_eq!(days("AF"), "Mon Tue Wed Sat Sun");
    }
}
