//! Working calendars' use cases: reading a country's calendar, changing it, importing
//! holidays from an iCalendar file (parsed off the state lock), each by an editor of that
//! country's office.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};

use crate::audit::method;
use crate::auth::Principal;
use crate::calendar::*;
use crate::commit::Put;
use crate::directory::FieldMask;
use crate::error::{Error, Result};
use crate::policy;
use crate::scheduler::{Meta, Scheduler, State};
use crate::service::directory::Guarded;
use crate::validate;

impl Guarded for WorkCalendar {
    const DELETE: &'static str = method::DELETE_WORK_CALENDAR;
    fn require_keeper(&self, who: &Principal) -> Result<()> {
        keeper(who, &self.country_code)
    }
}

fn keeper(who: &Principal, code: &str) -> Result<()> {
    policy::require_editor_of(who, code, "the working calendar of that country")
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
                let (found, skipped) = crate::ics::holidays::parse(&ics, default)?;
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
