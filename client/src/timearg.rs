//! Time arguments as a protocol officer types them, checked before anything is sent.
//!
//! The server is the authority on zones and DST; this module only recognises the *form*
//! of an argument, so that `--start tomorrow` fails at once with a usage error (exit 2)
//! rather than after a round trip, and so that a date range can become an all-day span.

use chrono::{NaiveDate, NaiveDateTime};
use entente_proto::v1 as pb;

/// What a time argument is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeArg {
    /// "2024-10-22T10:00": a wall time, read in the venue's zone or `--zone`.
    Local(String),
    /// "2024-10-22T10:00[Europe/Moscow]", optionally with an offset before the bracket.
    Zoned(String),
    /// "2024-10-22T07:00:00Z", "2024-10-22T10:00:00+03:00".
    Instant(String),
    /// "2024-10-22".
    Date(NaiveDate),
    /// "2024-10-22..2024-10-24", both days inclusive.
    Dates(NaiveDate, NaiveDate),
}

/// Why a time argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a time: use 2024-10-22T10:00, 2024-10-22T10:00[Europe/Moscow], 2024-10-22T07:00:00Z, 2024-10-22 or 2024-10-22..2024-10-24"
)]
pub struct BadTime(pub String);

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn local(s: &str) -> bool {
    [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .any(|f| NaiveDateTime::parse_from_str(s, f).is_ok())
}

/// The date-time before a trailing "Z" or "+03:00"/"-0500", if there is one.
fn strip_offset(s: &str) -> Option<&str> {
    if let Some(body) = s.strip_suffix(['Z', 'z']) {
        return Some(body);
    }
    let time = s.find('T').or_else(|| s.find(' '))? + 1;
    let sign = s[time..].rfind(['+', '-'])? + time;
    let offset = &s[sign + 1..];
    let ok = !offset.is_empty() && offset.chars().all(|c| c.is_ascii_digit() || c == ':');
    ok.then(|| &s[..sign])
}

/// Recognises one time argument.
pub fn parse(text: &str) -> Result<TimeArg, BadTime> {
    let s = text.trim();
    let bad = || BadTime(text.to_string());
    if let Some((a, b)) = s.split_once("..") {
        let (a, b) = (
            date(a.trim()).ok_or_else(bad)?,
            date(b.trim()).ok_or_else(bad)?,
        );
        return if b < a {
            Err(bad())
        } else {
            Ok(TimeArg::Dates(a, b))
        };
    }
    if let Some(d) = date(s) {
        return Ok(TimeArg::Date(d));
    }
    if let Some(open) = s.find('[') {
        if !s.ends_with(']') {
            return Err(bad());
        }
        let body = &s[..open];
        // Whatever precedes an offset must itself be a date-time.
        return if local(strip_offset(body).unwrap_or(body)) {
            Ok(TimeArg::Zoned(s.to_string()))
        } else {
            Err(bad())
        };
    }
    if let Some(body) = strip_offset(s) {
        return if local(body) {
            Ok(TimeArg::Instant(s.to_string()))
        } else {
            Err(bad())
        };
    }
    if local(s) {
        return Ok(TimeArg::Local(s.to_string()));
    }
    Err(bad())
}

impl TimeArg {
    /// The string to send for a timed span or a window bound.
    pub fn wire(&self) -> String {
        match self {
            TimeArg::Local(s) | TimeArg::Zoned(s) | TimeArg::Instant(s) => s.clone(),
            TimeArg::Date(d) | TimeArg::Dates(d, _) => d.to_string(),
        }
    }
}

/// An event's timing from `--start`/`--end` or `--dates`.
pub fn timing(
    start: Option<&str>,
    end: Option<&str>,
    dates: Option<&str>,
    zone: Option<&str>,
) -> Result<Option<pb::EventTiming>, String> {
    let zone = zone.unwrap_or_default().to_string();
    let span = match (start, end, dates) {
        (None, None, None) => return Ok(None),
        (_, _, Some(d)) if start.is_some() || end.is_some() => {
            return Err(format!(
                "give either --dates {d} or --start/--end, not both"
            ));
        }
        (None, None, Some(d)) => match parse(d).map_err(|e| e.to_string())? {
            TimeArg::Date(a) => dates_span(a, a, zone),
            TimeArg::Dates(a, b) => dates_span(a, b, zone),
            _ => {
                return Err(format!(
                    "--dates takes 2024-10-22 or 2024-10-22..2024-10-24, not {d:?}"
                ));
            }
        },
        (Some(s), Some(e), None) => match (
            parse(s).map_err(|x| x.to_string())?,
            parse(e).map_err(|x| x.to_string())?,
        ) {
            (TimeArg::Date(a), TimeArg::Date(b)) => dates_span(a, b, zone),
            (TimeArg::Dates(..), _) | (_, TimeArg::Dates(..)) => {
                return Err("a date range goes in --dates".into());
            }
            (TimeArg::Date(_), _) | (_, TimeArg::Date(_)) => {
                return Err("give both --start and --end as times of day, or use --dates".into());
            }
            (a, b) => pb::event_timing::Span::Timed(pb::TimedSpan {
                start: a.wire(),
                end: b.wire(),
                time_zone: zone,
            }),
        },
        _ => return Err("give both --start and --end (or --dates)".into()),
    };
    Ok(Some(pb::EventTiming { span: Some(span) }))
}

fn dates_span(a: NaiveDate, b: NaiveDate, zone: String) -> pb::event_timing::Span {
    pb::event_timing::Span::AllDay(pb::DateSpan {
        start_date: a.to_string(),
        end_date: b.to_string(),
        time_zone: zone,
    })
}

/// A query window from `--from`/`--to` or a `--window A..B` date range.
pub fn window(
    from: Option<&str>,
    to: Option<&str>,
    zone: Option<&str>,
) -> Result<Option<pb::TimeWindow>, String> {
    let zone = zone.unwrap_or_default().to_string();
    match (from, to) {
        (None, None) => Ok(None),
        (Some(f), None) => match parse(f).map_err(|e| e.to_string())? {
            TimeArg::Dates(a, b) => Ok(Some(pb::TimeWindow {
                start: a.to_string(),
                end: b.succ_opt().unwrap_or(b).to_string(),
                time_zone: zone,
            })),
            _ => Err("give --to as well, or a date range such as 2024-10-01..2024-10-31".into()),
        },
        (None, Some(_)) => Err("give --from as well".into()),
        (Some(f), Some(t)) => {
            let (f, t) = (
                parse(f).map_err(|e| e.to_string())?,
                parse(t).map_err(|e| e.to_string())?,
            );
            if matches!(f, TimeArg::Dates(..)) || matches!(t, TimeArg::Dates(..)) {
                return Err("a date range goes alone in --from".into());
            }
            Ok(Some(pb::TimeWindow {
                start: f.wire(),
                end: t.wire(),
                time_zone: zone,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        date(s).expect("test date")
    }

    #[test]
    fn recognises_each_form() {
        let cases: &[(&str, Option<TimeArg>)] = &[
            (
                "2024-10-22T10:00",
                Some(TimeArg::Local("2024-10-22T10:00".into())),
            ),
            (
                "2024-10-22T10:00:30",
                Some(TimeArg::Local("2024-10-22T10:00:30".into())),
            ),
            (
                "2024-10-22 10:00",
                Some(TimeArg::Local("2024-10-22 10:00".into())),
            ),
            (
                "2024-10-22T10:00[Europe/Moscow]",
                Some(TimeArg::Zoned("2024-10-22T10:00[Europe/Moscow]".into())),
            ),
            (
                "2024-10-22T10:00:00+03:00[Europe/Moscow]",
                Some(TimeArg::Zoned(
                    "2024-10-22T10:00:00+03:00[Europe/Moscow]".into(),
                )),
            ),
            (
                "2024-10-22T07:00:00Z",
                Some(TimeArg::Instant("2024-10-22T07:00:00Z".into())),
            ),
            (
                "2024-10-22T10:00:00+03:00",
                Some(TimeArg::Instant("2024-10-22T10:00:00+03:00".into())),
            ),
            ("2024-10-22", Some(TimeArg::Date(d("2024-10-22")))),
            (
                "2024-10-22..2024-10-24",
                Some(TimeArg::Dates(d("2024-10-22"), d("2024-10-24"))),
            ),
            (
                " 2024-10-22 .. 2024-10-24 ",
                Some(TimeArg::Dates(d("2024-10-22"), d("2024-10-24"))),
            ),
            ("2024-10-24..2024-10-22", None),
            ("tomorrow", None),
            ("2024-13-01", None),
            ("2024-10-22T25:00", None),
            ("2024-10-22T10:00[Europe/Moscow", None),
            ("[Europe/Moscow]", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).ok(), *want, "{text:?}");
        }
    }

    #[test]
    fn timing_from_flags() {
        let t = timing(
            Some("2024-10-11T11:00"),
            Some("2024-10-11T12:30"),
            None,
            None,
        )
        .expect("timed");
        assert!(matches!(
            t.and_then(|t| t.span),
            Some(pb::event_timing::Span::Timed(_))
        ));
        let t = timing(
            None,
            None,
            Some("2024-10-22..2024-10-24"),
            Some("Europe/Moscow"),
        )
        .expect("days");
        assert_eq!(
            t.and_then(|t| t.span),
            Some(pb::event_timing::Span::AllDay(pb::DateSpan {
                start_date: "2024-10-22".into(),
                end_date: "2024-10-24".into(),
                time_zone: "Europe/Moscow".into(),
            }))
        );
        assert!(timing(Some("2024-10-11T11:00"), None, None, None).is_err());
        assert!(
            timing(
                Some("2024-10-11T11:00"),
                Some("2024-10-11T12:00"),
                Some("2024-10-22"),
                None
            )
            .is_err()
        );
        assert!(timing(Some("2024-10-11"), Some("2024-10-11T12:00"), None, None).is_err());
        assert_eq!(timing(None, None, None, None), Ok(None));
    }

    #[test]
    fn windows_from_flags() {
        let w = window(Some("2024-10-01..2024-10-31"), None, Some("Asia/Tehran"))
            .expect("range")
            .expect("some");
        assert_eq!(
            (w.start.as_str(), w.end.as_str()),
            ("2024-10-01", "2024-11-01")
        );
        let w = window(Some("2024-10-01T00:00Z"), Some("2024-10-02"), None)
            .expect("pair")
            .expect("some");
        assert_eq!(
            (w.start.as_str(), w.end.as_str()),
            ("2024-10-01T00:00Z", "2024-10-02")
        );
        assert!(window(Some("2024-10-01"), None, None).is_err());
        assert!(window(None, Some("2024-10-01"), None).is_err());
    }
}
