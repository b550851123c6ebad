//! Each country's working calendar: which days of the week are working days, and which
//! dates are holidays. The slot finder (`slots`) reads it; a country's office edits it.
//!
//! A country with no stored calendar has CLDR's work week for its region, read from
//! ICU4X's compiled week data (Friday off in Iran, Friday and Saturday in Saudi Arabia and
//! Qatar, Saturday and Sunday in Russia and, since 2022, the UAE), and no holidays: no
//! maintained crate ships holiday data we could use offline under a licence we accept
//! (the `holidays` crate gives none), so holidays come from the office or from an
//! iCalendar file ([`parse_ics`]). Holidays are OFFICIAL or ESTIMATED (a lunar holiday
//! awaiting the moon sighting); the finder treats ESTIMATED as soft whatever it is asked.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::audit::method;
use crate::auth::Principal;
use crate::directory::{FieldMask, Guarded};
use crate::error::{Error, Result};
use crate::ics;
use crate::policy;
use crate::scheduler::{Meta, Resource, Scheduler, State};
use crate::storage::prefix;
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

impl Guarded for WorkCalendar {
    const DELETE: &'static str = method::DELETE_WORK_CALENDAR;
    fn require_keeper(&self, who: &Principal) -> Result<()> {
        keeper(who, &self.country_code)
    }
}

fn keeper(who: &Principal, code: &str) -> Result<()> {
    policy::require_editor_of(who, code, "the working calendar of that country")
}

impl Resource for WorkCalendar {
    const KIND: &'static str = "work calendar";
    const FEED_KIND: crate::commit::Kind = crate::commit::Kind::WorkCalendar;
    fn record(self) -> crate::commit::Record {
        crate::commit::Record::WorkCalendar(std::sync::Arc::new(self))
    }
    const PREFIX: &'static [u8] = prefix::WORK_CALENDAR;
    fn id(&self) -> &str {
        &self.country_code
    }
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn map(state: &State) -> &crate::scheduler::Directory<Self> {
        &state.work_calendars
    }
    fn map_mut(state: &mut State) -> &mut crate::scheduler::Directory<Self> {
        &mut state.work_calendars
    }
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

fn validated_days(field: &str, days: &[i32]) -> Result<Option<Days>> {
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

fn validated_holidays(field: &str, input: &[HolidayInput]) -> Result<Vec<Holiday>> {
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

/// The holidays an iCalendar file lists, and what was skipped (with why).
pub fn parse_ics(text: &str, default: HolidayStatus) -> Result<(Vec<Holiday>, Vec<String>)> {
    use calcard::icalendar::{ICalendarProperty as P, ICalendarStatus};
    let calendar = ics::parse(text, "icalendar")?;
    let (mut holidays, mut skipped) = (Vec::new(), Vec::new());
    for event in ics::vevents(&calendar) {
        let name = ics::text(event, &P::Summary)
            .unwrap_or("")
            .trim()
            .to_string();
        let what = validate::shown(&name);
        let Some(first) = event.property(&P::Dtstart).and_then(ics::date) else {
            skipped.push(format!(
                "{what}: DTSTART is not a date (a holiday is a whole day)"
            ));
            continue;
        };
        if name.is_empty() {
            skipped.push(format!("the event on {first}: no SUMMARY to name it"));
            continue;
        }
        // DTEND of an all-day event is exclusive; without one the event is one day.
        let end = match event.property(&P::Dtend).and_then(ics::date) {
            Some(d) if d > first => d,
            _ => first.succ_opt().unwrap_or(first),
        };
        if (end - first).num_days() > 31 {
            skipped.push(format!("{what}: spans more than 31 days"));
            continue;
        }
        let status = match event.status() {
            Some(ICalendarStatus::Tentative) => HolidayStatus::Estimated,
            _ => default,
        };
        let mut d = first;
        while d < end {
            holidays.push(Holiday {
                date: d,
                name: name.clone(),
                status,
            });
            d = d.succ_opt().unwrap_or(end);
        }
    }
    Ok((holidays, skipped))
}

impl Scheduler {
    /// A country's working calendar (its default when none is stored).
    pub fn work_calendar(&self, who: &Principal, code: &str) -> Result<WorkCalendar> {
        let code = validate::country_code("country_code", code)?;
        self.read(who, |view| {
            Ok(view
                .state()
                .work_calendars
                .get(&code)
                .cloned()
                .unwrap_or_else(|| WorkCalendar::default_for(&code)))
        })
    }

    /// Sets the fields in `mask`, creating the calendar if none is stored (an editor of
    /// that country's office, or ADMIN).
    pub async fn update_work_calendar(
        &self,
        who: &Principal,
        input: WorkCalendarInput,
        mask: FieldMask,
    ) -> Result<WorkCalendar> {
        let code = validate::country_code("work_calendar.country_code", &input.country_code)?;
        keeper(who, &code)?;
        let days = validated_days("work_calendar.working_days", &input.working_days)?;
        let holidays = validated_holidays("work_calendar.holidays", &input.holidays)?;
        let set_days = mask.takes("working_days", !input.working_days.is_empty());
        let set_holidays = mask.takes("holidays", !input.holidays.is_empty());
        let request_id = input.request_id.clone();
        self.write_once(
            who,
            method::UPDATE_WORK_CALENDAR,
            &request_id,
            move |st, tx, now| {
                keeper(who, &code)?;
                let mut cal = current(st, &code, &input.etag, now)?;
                if set_days {
                    cal.working_days = days;
                }
                if set_holidays {
                    cal.holidays = holidays;
                }
                st.put(tx, cal.clone());
                Ok(cal)
            },
        )
        .await
    }

    /// Adds (or, with `replace`, replaces year by year) holidays from an iCalendar file.
    pub async fn import_holidays(
        &self,
        who: &Principal,
        code: &str,
        ics: &str,
        default: HolidayStatus,
        replace: bool,
        etag: String,
    ) -> Result<(WorkCalendar, usize, Vec<String>)> {
        let code = validate::country_code("country_code", code)?;
        keeper(who, &code)?;
        // Parsed and deduplicated on the pool, before the write lock (which on PostgreSQL
        // is also the database's commit lock): under it, the merge is linear.
        let ics = ics.to_string();
        let (found, skipped) = self
            .pool()
            .run(&who.office, move |_| {
                let (found, skipped) = parse_ics(&ics, default)?;
                Ok((dedup_holidays(found)?, skipped))
            })
            .await?;
        self.write(who, method::IMPORT_HOLIDAYS, move |st, tx, now| {
            keeper(who, &code)?;
            let mut cal = current(st, &code, &etag, now)?;
            let years: BTreeSet<i32> = found.iter().map(|h| h.date.year()).collect();
            let named: std::collections::HashSet<(NaiveDate, &str)> =
                found.iter().map(|h| (h.date, h.name.as_str())).collect();
            // The same date and name once: a re-import updates the status.
            let mut all: BTreeSet<Holiday> = cal
                .holidays
                .drain(..)
                .filter(|h| !(replace && years.contains(&h.date.year())))
                .filter(|h| !named.contains(&(h.date, h.name.as_str())))
                .collect();
            let kept = all.len();
            all.extend(found.iter().cloned());
            if all.len() > MAX_HOLIDAYS {
                return Err(Error::invalid(
                    "icalendar",
                    format!(
                        "the calendar would hold {} holidays, more than {MAX_HOLIDAYS}",
                        all.len()
                    ),
                ));
            }
            let imported = all.len() - kept;
            cal.holidays = all.into_iter().collect();
            st.put(tx, cal.clone());
            Ok((cal, imported, skipped))
        })
        .await
    }
}

/// `found` with each date and name once (the last one the file gives wins, as a re-import
/// would), refused if that alone is more than a calendar holds.
fn dedup_holidays(found: Vec<Holiday>) -> Result<Vec<Holiday>> {
    let mut by_day: std::collections::BTreeMap<(NaiveDate, String), HolidayStatus> =
        std::collections::BTreeMap::new();
    for h in found {
        by_day.insert((h.date, h.name), h.status);
    }
    if by_day.len() > MAX_HOLIDAYS {
        return Err(Error::invalid(
            "icalendar",
            format!(
                "the file holds {} holidays, more than the {MAX_HOLIDAYS} a calendar holds",
                by_day.len()
            ),
        ));
    }
    Ok(by_day
        .into_iter()
        .map(|((date, name), status)| Holiday { date, name, status })
        .collect())
}

/// The calendar to change: the stored one (its etag checked, its meta bumped) or a new one.
fn current(st: &State, code: &str, etag: &str, now: i64) -> Result<WorkCalendar> {
    Ok(match st.work_calendars.get(code) {
        Some(old) => {
            old.meta.check_etag(etag, WorkCalendar::KIND, code)?;
            WorkCalendar {
                meta: old.meta.bumped(now),
                ..old.clone()
            }
        }
        None => {
            if !etag.is_empty() {
                return Err(Error::Aborted(format!(
                    "the working calendar of {code} has changed since you read it: none is \
                     stored now (your etag {}); read it again and retry",
                    validate::shown(etag)
                )));
            }
            WorkCalendar {
                meta: Meta::new(now),
                ..WorkCalendar::default_for(code)
            }
        }
    })
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

    #[test]
    fn ics_all_day_events_become_holidays() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n\
            BEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240402\r\n\
            DTEND;VALUE=DATE:20240404\r\nSUMMARY:Nature Day\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:2\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240826\r\n\
            SUMMARY:Arbaeen\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:3\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240826T100000Z\r\n\
            SUMMARY:A meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let (h, skipped) = parse_ics(ics, HolidayStatus::Official).unwrap();
        let got: Vec<String> = h
            .iter()
            .map(|h| format!("{} {} {:?}", h.date, h.name, h.status))
            .collect();
        assert_eq!(
            got,
            [
                "2024-04-02 Nature Day Official",
                "2024-04-03 Nature Day Official",
                "2024-08-26 Arbaeen Estimated"
            ]
        );
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(parse_ics("not a calendar", HolidayStatus::Official).is_err());
    }
}
