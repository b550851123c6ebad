//! Holidays from an iCalendar file: each all-day VEVENT a holiday on each of its days
//! (a TENTATIVE one estimated), for a country's working calendar
//! ([`crate::calendar::WorkCalendar`]).

use crate::calendar::{Holiday, HolidayStatus};
use crate::error::Result;
use crate::validate;

/// The holidays an iCalendar file lists, and what was skipped (with why).
pub fn parse(text: &str, default: HolidayStatus) -> Result<(Vec<Holiday>, Vec<String>)> {
    use calcard::icalendar::{ICalendarProperty as P, ICalendarStatus};
    let calendar = super::parse(text, "icalendar")?;
    let (mut holidays, mut skipped) = (Vec::new(), Vec::new());
    for event in super::vevents(&calendar) {
        let name = super::text(event, &P::Summary)
            .unwrap_or("")
            .trim()
            .to_string();
        let what = validate::shown(&name);
        let Some(first) = event.property(&P::Dtstart).and_then(super::date) else {
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
        let end = match event.property(&P::Dtend).and_then(super::date) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ics_all_day_events_become_holidays() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n\
            BEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240402\r\n\
            DTEND;VALUE=DATE:20240404\r\nSUMMARY:Nature Day\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:2\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240826\r\n\
            SUMMARY:Arbaeen\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:3\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240826T100000Z\r\n\
            SUMMARY:A meeting\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let (h, skipped) = parse(ics, HolidayStatus::Official).unwrap();
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
        assert!(parse("not a calendar", HolidayStatus::Official).is_err());
    }
}
