//! Zoned local time: the one place that turns what a protocol office writes ("11:00 in
//! Ashgabat", "22–24 October in Kazan") into instants, and instants back into wall time.
//!
//! The rules are TC39 Temporal's, because they are precise and widely reviewed:
//! - a wall time in a DST *gap* (it never happens) or *fold* (it happens twice) is resolved
//!   by [`Disambiguation`]; chrono reports a gap as `LocalResult::None` with no instant at
//!   all, so the gap shift is computed here exactly as Temporal's
//!   `DisambiguatePossibleEpochNanoseconds` does (offsets one day either side);
//! - a numeric offset in a string is checked against the zone by [`OffsetPolicy`]; a `Z` is
//!   not an offset claim but an exact instant;
//! - a whole day starts at the first instant of that date in the zone.
//!
//! Instants are whole seconds since the Unix epoch (`i64`): schedules have no use for
//! sub-second precision, and rejecting it keeps stored records exact.
//!
//! # Why one file of ~1,200 lines
//! About 400 of them are tests and properties. Disambiguation, parsing and rendering all
//! read the same offset transitions, and the crate's whole surface is this one module.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use serde::{Deserialize, Serialize};

/// The tzdb release compiled into this server ("2025b").
pub const TZDB_VERSION: &str = chrono_tz::IANA_TZDB_VERSION;

/// Earliest and latest years accepted anywhere: wide enough for archives and long-range
/// planning, narrow enough to keep every instant far from overflow.
pub const MIN_YEAR: i32 = 1900;
/// See [`MIN_YEAR`].
pub const MAX_YEAR: i32 = 2200;

/// A problem with a time as given. Each message is meant for a protocol officer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not a zone name tzdb knows.
    #[error("{0:?} is not an IANA time zone (for example \"Europe/Moscow\" or \"Asia/Tehran\")")]
    UnknownZone(String),
    /// The text is not a date-time entente can read.
    #[error("{0}")]
    Unreadable(String),
    /// Outside [`MIN_YEAR`]..=[`MAX_YEAR`].
    #[error("year {0} is outside the supported range {MIN_YEAR}..={MAX_YEAR}")]
    YearOutOfRange(i32),
    /// The wall time falls in a DST gap and the caller asked to reject that.
    #[error(
        "{local} does not exist in {zone}: clocks jump forward there that day; use {earlier} \
         (disambiguation EARLIER) or {later} (COMPATIBLE or LATER)"
    )]
    Gap {
        /// The wall time as given.
        local: String,
        /// The zone.
        zone: String,
        /// The wall time Temporal's EARLIER would give.
        earlier: String,
        /// The wall time Temporal's LATER/COMPATIBLE would give.
        later: String,
    },
    /// The wall time falls in a fold and the caller asked to reject that.
    #[error(
        "{local} happens twice in {zone}: at {first} and at {second}; choose with \
         disambiguation EARLIER or LATER, or give the offset"
    )]
    Ambiguous {
        /// The wall time as given.
        local: String,
        /// The zone.
        zone: String,
        /// The first occurrence, with its offset.
        first: String,
        /// The second occurrence, with its offset.
        second: String,
    },
    /// A numeric offset that the zone does not use at that wall time.
    #[error("offset {offset} contradicts {zone}, which is at {expected} on {local}")]
    OffsetMismatch {
        /// The offset as given.
        offset: String,
        /// The zone.
        zone: String,
        /// The offsets the zone does use then.
        expected: String,
        /// The wall time.
        local: String,
    },
    /// Two different zones were given for one time.
    #[error("the time names zone {given} but {expected} applies here")]
    ZoneMismatch {
        /// The zone in the string's brackets.
        given: String,
        /// The zone from the request or venue.
        expected: String,
    },
}

/// How to resolve a wall time in a gap or fold (TC39 Temporal semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Disambiguation {
    /// Gap: shift forward by the gap. Fold: earlier instant.
    Compatible,
    /// Gap: shift backward by the gap. Fold: earlier instant.
    Earlier,
    /// Gap: shift forward by the gap. Fold: later instant.
    Later,
    /// Gap or fold: error.
    #[default]
    Reject,
}

/// What to do with a numeric offset when a zone applies too (TC39 Temporal semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetPolicy {
    /// The offset must be one the zone uses at that wall time.
    #[default]
    Reject,
    /// The instant from the offset wins; the wall time is recomputed in the zone.
    Use,
    /// The offset picks a candidate where it can, else the wall time is resolved normally.
    Prefer,
    /// The offset is dropped.
    Ignore,
}

/// Longest zone name read (tzdb's longest is 32 characters); longer input is refused
/// without being echoed, so no error grows with its input.
const MAX_ZONE_CHARS: usize = 64;
/// Longest date-time string read (a full RFC 9557 string with the longest zone is ~70).
const MAX_TIME_CHARS: usize = 100;

/// Parses an IANA zone name.
pub fn parse_zone(name: &str) -> Result<Tz, TimeError> {
    let name = name.trim();
    let n = if name.len() <= MAX_ZONE_CHARS {
        0
    } else {
        name.chars().count()
    };
    if n > MAX_ZONE_CHARS {
        return Err(TimeError::Unreadable(format!(
            "a zone name of {n} characters is not an IANA time zone (for example \
             \"Europe/Moscow\")"
        )));
    }
    name.parse::<Tz>()
        .map_err(|_| TimeError::UnknownZone(name.to_string()))
}

/// Refuses a time string too long to be one, without echoing it.
fn bounded_time(text: &str) -> Result<&str, TimeError> {
    // A string has no more characters than bytes: the usual one needs no count.
    if text.len() <= MAX_TIME_CHARS {
        return Ok(text);
    }
    let n = text.chars().count();
    if n > MAX_TIME_CHARS {
        return Err(TimeError::Unreadable(format!(
            "a value of {n} characters is not a date-time; write \"2024-10-22T10:00\" or \
             \"2024-10-22\""
        )));
    }
    Ok(text)
}

/// A resolved moment: the instant, and how it reads on the wall clock of its zone.
///
/// This is what events store: `local` and `zone` are the source of truth, `offset_secs`
/// records which side of a fold was meant, `utc` is derived for indexing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zoned {
    /// Wall time in `zone`.
    pub local: NaiveDateTime,
    /// The zone.
    pub zone: Tz,
    /// Offset from UTC in force, in seconds.
    pub offset_secs: i32,
    /// Seconds since the Unix epoch.
    pub utc: i64,
}

impl Zoned {
    /// The instant `utc` (Unix seconds) seen in `zone`.
    pub fn from_instant(utc: i64, zone: Tz) -> Result<Zoned, TimeError> {
        let instant = DateTime::<Utc>::from_timestamp(utc, 0)
            .ok_or_else(|| TimeError::Unreadable(format!("instant {utc} is out of range")))?;
        let local = instant.with_timezone(&zone);
        Ok(Zoned {
            local: local.naive_local(),
            zone,
            offset_secs: local.offset().fix().local_minus_utc(),
            utc,
        })
    }

    /// The same instant in another zone.
    pub fn in_zone(&self, zone: Tz) -> Zoned {
        // An instant that was valid in one zone is valid in all: the range check cannot fail.
        Zoned::from_instant(self.utc, zone).unwrap_or(*self)
    }

    /// "+05:00".
    pub fn offset_string(&self) -> String {
        format_offset(self.offset_secs)
    }

    /// "2024-10-11T11:00:00".
    pub fn local_string(&self) -> String {
        let mut s = String::with_capacity(19);
        push_local(&mut s, &self.local);
        s
    }

    /// "2024-10-11T11:00:00+05:00[Asia/Ashgabat]".
    pub fn rfc9557(&self) -> String {
        self.write_rfc9557().0
    }

    /// The local time, the offset and the RFC 9557 string, for a reply that carries all
    /// three: written once, the first two copied out of the third.
    pub fn rendered(&self) -> Rendered {
        let (rfc9557, local_end, offset_end) = self.write_rfc9557();
        Rendered {
            local: rfc9557[..local_end].to_string(),
            offset: rfc9557[local_end..offset_end].to_string(),
            rfc9557,
        }
    }

    /// The RFC 9557 string, and where its local time and its offset end.
    fn write_rfc9557(&self) -> (String, usize, usize) {
        let name = self.zone.name();
        let mut out = String::with_capacity(19 + 9 + 2 + name.len());
        push_local(&mut out, &self.local);
        let local_end = out.len();
        push_offset(&mut out, self.offset_secs);
        let offset_end = out.len();
        out.push('[');
        out.push_str(name);
        out.push(']');
        (out, local_end, offset_end)
    }

    /// tzdb's abbreviation ("MSK", "EDT"), or the offset when tzdb has only a number.
    pub fn abbreviation(&self) -> String {
        let offset = self
            .zone
            .offset_from_utc_datetime(&self.instant().naive_utc());
        match offset.abbreviation() {
            Some(a) if !a.starts_with(['+', '-']) => a.to_string(),
            _ => self.offset_string(),
        }
    }

    /// Whether DST is in force at this moment.
    pub fn is_dst(&self) -> bool {
        let offset = self
            .zone
            .offset_from_utc_datetime(&self.instant().naive_utc());
        offset.dst_offset() != Duration::zero()
    }

    /// The instant as a chrono value.
    pub fn instant(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(self.utc, 0).unwrap_or_default()
    }
}

/// A [`Zoned`] written out, as [`Zoned::rendered`] gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// "2024-10-11T11:00:00".
    pub local: String,
    /// "+05:00".
    pub offset: String,
    /// "2024-10-11T11:00:00+05:00[Asia/Ashgabat]".
    pub rfc9557: String,
}

/// Formats an offset in seconds as "+05:45".
pub fn format_offset(secs: i32) -> String {
    let mut s = String::with_capacity(9);
    push_offset(&mut s, secs);
    s
}

// Every time in every reply is rendered, several strings each, so these write digits
// directly instead of going through `format!`'s machinery (or chrono's strftime, which
// interprets its pattern on every call). `time::tests::the_fast_formatters_agree_with_format`
// holds them to `format!`.

/// Appends "+05:45" ("+05:45:30" when the offset has seconds, as in historical LMT).
fn push_offset(out: &mut String, secs: i32) {
    out.push(if secs < 0 { '-' } else { '+' });
    let abs = secs.unsigned_abs();
    match abs / 3600 {
        h @ 0..=99 => push_digits(out, h, 2),
        // No zone is that far off UTC, but `{:02}` would print every digit.
        h => out.push_str(&h.to_string()),
    }
    out.push(':');
    push_digits(out, abs % 3600 / 60, 2);
    if abs % 60 != 0 {
        out.push(':');
        push_digits(out, abs % 60, 2);
    }
}

/// Appends "2024-10-11T11:00:00".
fn push_local(out: &mut String, local: &NaiveDateTime) {
    let (d, t) = (local.date(), local.time());
    match u32::try_from(d.year()) {
        Ok(y) if y <= 9999 => push_digits(out, y, 4),
        // Outside four digits `{:04}` decides the sign and width.
        _ => out.push_str(&format!("{:04}", d.year())),
    }
    out.push('-');
    push_digits(out, d.month(), 2);
    out.push('-');
    push_digits(out, d.day(), 2);
    out.push('T');
    push_digits(out, t.hour(), 2);
    out.push(':');
    push_digits(out, t.minute(), 2);
    out.push(':');
    push_digits(out, t.second(), 2);
}

/// Appends the last `width` decimal digits of `n`, zero-padded.
fn push_digits(out: &mut String, n: u32, width: u32) {
    let mut div = 10u32.pow(width - 1);
    for _ in 0..width {
        out.push(char::from(b'0' + (n / div % 10) as u8));
        div /= 10;
    }
}

/// Every instant the wall time `local` names in `zone`: none (gap), one, or two (fold),
/// earliest first.
fn candidates(local: NaiveDateTime, zone: Tz) -> Vec<DateTime<Tz>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(a) => vec![a],
        LocalResult::Ambiguous(a, b) => {
            let mut v = vec![a, b];
            v.sort_by_key(|d| d.timestamp());
            v
        }
        LocalResult::None => Vec::new(),
    }
}

fn offset_at(zone: Tz, utc: NaiveDateTime) -> i64 {
    i64::from(zone.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

fn zoned_of(d: DateTime<Tz>) -> Zoned {
    Zoned {
        local: d.naive_local(),
        zone: d.timezone(),
        offset_secs: d.offset().fix().local_minus_utc(),
        utc: d.timestamp(),
    }
}

fn check_year(local: NaiveDateTime) -> Result<(), TimeError> {
    if (MIN_YEAR..=MAX_YEAR).contains(&local.year()) {
        Ok(())
    } else {
        Err(TimeError::YearOutOfRange(local.year()))
    }
}

/// Resolves a wall time in a zone to one instant, as Temporal's
/// `GetEpochNanosecondsFor(timeZone, dateTime, disambiguation)` does.
pub fn resolve(
    local: NaiveDateTime,
    zone: Tz,
    disambiguation: Disambiguation,
) -> Result<Zoned, TimeError> {
    check_year(local)?;
    let found = candidates(local, zone);
    match (found.as_slice(), disambiguation) {
        ([one], _) => Ok(zoned_of(*one)),
        ([first, _], Disambiguation::Compatible | Disambiguation::Earlier) => Ok(zoned_of(*first)),
        ([_, second], Disambiguation::Later) => Ok(zoned_of(*second)),
        ([first, second], Disambiguation::Reject) => Err(TimeError::Ambiguous {
            local: fmt_local(local),
            zone: zone.name().to_string(),
            first: zoned_of(*first).rfc9557(),
            second: zoned_of(*second).rfc9557(),
        }),
        (_, disambiguation) => {
            // A gap. Temporal measures it from the offsets one day either side of the wall
            // time read as if it were UTC, then shifts the wall time by that much.
            let as_utc = local;
            let before = offset_at(zone, as_utc - Duration::days(1));
            let after = offset_at(zone, as_utc + Duration::days(1));
            let gap = Duration::seconds(after - before);
            let earlier = shifted(local - gap, zone, true);
            let later = shifted(local + gap, zone, false);
            match disambiguation {
                Disambiguation::Earlier => earlier,
                Disambiguation::Compatible | Disambiguation::Later => later,
                Disambiguation::Reject => Err(TimeError::Gap {
                    local: fmt_local(local),
                    zone: zone.name().to_string(),
                    earlier: earlier.map(|z| z.rfc9557()).unwrap_or_default(),
                    later: later.map(|z| z.rfc9557()).unwrap_or_default(),
                }),
            }
        }
    }
}

/// Resolves a wall time that was shifted out of a gap: the first candidate for EARLIER, the
/// last for LATER (Temporal's steps after the shift).
fn shifted(local: NaiveDateTime, zone: Tz, first: bool) -> Result<Zoned, TimeError> {
    check_year(local)?;
    let found = candidates(local, zone);
    let pick = if first { found.first() } else { found.last() };
    pick.map(|d| zoned_of(*d)).ok_or_else(|| {
        TimeError::Unreadable(format!(
            "{} cannot be placed in {}: its DST transitions are too close together",
            fmt_local(local),
            zone.name()
        ))
    })
}

fn fmt_local(local: NaiveDateTime) -> String {
    let (d, t) = (local.date(), local.time());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        d.year(),
        d.month(),
        d.day(),
        t.hour(),
        t.minute()
    )
}

/// The offset part of a time string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// "Z": the exact instant; the wall time follows from the zone.
    Utc,
    /// "+05:00": a claim about the offset in force.
    Fixed(FixedOffset),
}

/// A time string, read but not yet resolved against a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTime {
    /// The date-time part (a date alone means its midnight).
    pub local: NaiveDateTime,
    /// Whether only a date was given.
    pub date_only: bool,
    /// The offset, if any.
    pub offset: Option<OffsetSpec>,
    /// The zone in RFC 9557 brackets, if any.
    pub zone: Option<Tz>,
}

/// Reads a local date-time ("2024-10-11T11:00"), a date ("2024-10-22"), an RFC 3339 instant
/// ("2024-10-11T06:00:00Z", "2024-10-11T11:00:00+05:00") or an RFC 9557 string
/// ("2024-10-22T10:00[Europe/Moscow]", optionally with an offset before the bracket).
pub fn parse_time(text: &str) -> Result<ParsedTime, TimeError> {
    let text = bounded_time(text.trim())?;
    if text.is_empty() {
        return Err(TimeError::Unreadable("a time is required".into()));
    }
    let (body, zone) = split_annotations(text)?;
    let (dt, offset) = split_offset(body);
    let offset = offset.map(|o| parse_offset(o, text)).transpose()?;
    let (local, date_only) = parse_local(dt).ok_or_else(|| {
        TimeError::Unreadable(format!(
            "{text:?} is not a date-time; write \"2024-10-22T10:00\", \"2024-10-22\", \
             \"2024-10-22T10:00:00+03:00\" or \"2024-10-22T10:00[Europe/Moscow]\""
        ))
    })?;
    if date_only && (offset.is_some() || zone.is_some()) {
        return Err(TimeError::Unreadable(format!(
            "{text:?}: a date alone cannot carry an offset or zone; give a time of day"
        )));
    }
    check_year(local)?;
    Ok(ParsedTime {
        local,
        date_only,
        offset,
        zone,
    })
}

/// Splits RFC 9557 suffix annotations: the first one without '=' is the zone; `[u-ca=…]`
/// and other elective keys are ignored; critical ones (`[!…]`) other than the zone are
/// refused, as RFC 9557 requires.
fn split_annotations(text: &str) -> Result<(&str, Option<Tz>), TimeError> {
    let Some(open) = text.find('[') else {
        return Ok((text, None));
    };
    let (body, mut rest) = text.split_at(open);
    let mut zone = None;
    while !rest.is_empty() {
        let close = rest.find(']').ok_or_else(|| {
            TimeError::Unreadable(format!("{text:?}: unclosed '[' in the zone annotation"))
        })?;
        let inner = &rest[1..close];
        let (critical, inner) = match inner.strip_prefix('!') {
            Some(i) => (true, i),
            None => (false, inner),
        };
        if inner.contains('=') {
            if critical {
                return Err(TimeError::Unreadable(format!(
                    "{text:?}: the critical annotation [!{inner}] is not supported"
                )));
            }
        } else if zone.is_none() {
            zone = Some(parse_zone(inner)?);
        } else {
            return Err(TimeError::Unreadable(format!(
                "{text:?}: more than one zone"
            )));
        }
        rest = rest[close + 1..].trim_start();
        if !rest.is_empty() && !rest.starts_with('[') {
            return Err(TimeError::Unreadable(format!(
                "{text:?}: unexpected text after the annotation"
            )));
        }
    }
    Ok((body.trim_end(), zone))
}

/// Splits "2024-10-11T11:00:00+05:00" into the date-time and the offset, if any.
fn split_offset(body: &str) -> (&str, Option<&str>) {
    if let Some(stripped) = body.strip_suffix(['Z', 'z']) {
        return (stripped, Some("Z"));
    }
    // An offset sign can only come after the time part ('T' or ' '), never in the date.
    let time_start = body.find(['T', 't', ' ']).map_or(body.len(), |i| i + 1);
    match body[time_start..].rfind(['+', '-']) {
        Some(i) => (&body[..time_start + i], Some(&body[time_start + i..])),
        None => (body, None),
    }
}

fn parse_offset(text: &str, whole: &str) -> Result<OffsetSpec, TimeError> {
    if text == "Z" {
        return Ok(OffsetSpec::Utc);
    }
    let bad = || TimeError::Unreadable(format!("{whole:?}: {text:?} is not a UTC offset"));
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let (h, m, s) = match digits.len() {
        2 => (&digits[0..2], "0", "0"),
        4 => (&digits[0..2], &digits[2..4], "0"),
        6 => (&digits[0..2], &digits[2..4], &digits[4..6]),
        _ => return Err(bad()),
    };
    let num = |x: &str| x.parse::<i32>().map_err(|_| bad());
    let (h, m, s) = (num(h)?, num(m)?, num(s)?);
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60 + s))
        .map(OffsetSpec::Fixed)
        .ok_or_else(bad)
}

fn parse_local(text: &str) -> Option<(NaiveDateTime, bool)> {
    parse_local_exact(text).or_else(|| parse_local_chrono(text))
}

/// The shapes nearly every request uses (`2024-10-22`, `2024-10-22T10:00`,
/// `2024-10-22T10:00:00`), read digit by digit: chrono's format-string parser was the
/// largest single cost of reading a time. Anything else (fractions, other separators,
/// out-of-range fields) goes to [`parse_local_chrono`], which decides.
fn parse_local_exact(text: &str) -> Option<(NaiveDateTime, bool)> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let (time, date_only) = match b.len() {
        10 => (NaiveTime::MIN, true),
        16 | 19 if matches!(b[10], b'T' | b't' | b' ') && b[13] == b':' => {
            let sec = if b.len() == 19 {
                if b[16] != b':' {
                    return None;
                }
                num(17..19)?
            } else {
                0
            };
            (
                NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, sec)?,
                false,
            )
        }
        _ => return None,
    };
    Some((date.and_time(time), date_only))
}

fn parse_local_chrono(text: &str) -> Option<(NaiveDateTime, bool)> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some((date.and_time(NaiveTime::MIN), true));
    }
    let text = text.replacen(['t', ' '], "T", 1);
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(&text, format) {
            // Whole seconds only: a stored schedule never means half a second.
            if dt.nanosecond() != 0 {
                return None;
            }
            return Some((dt, false));
        }
    }
    None
}

/// Resolves a parsed time against the zone that applies (from the request or the venue),
/// applying the offset policy and disambiguation.
pub fn resolve_parsed(
    parsed: &ParsedTime,
    zone: Tz,
    disambiguation: Disambiguation,
    offset_policy: OffsetPolicy,
) -> Result<Zoned, TimeError> {
    if let Some(given) = parsed.zone
        && given != zone
    {
        return Err(TimeError::ZoneMismatch {
            given: given.name().to_string(),
            expected: zone.name().to_string(),
        });
    }
    let offset = match (parsed.offset, offset_policy) {
        (None, _) | (Some(OffsetSpec::Fixed(_)), OffsetPolicy::Ignore) => {
            return resolve(parsed.local, zone, disambiguation);
        }
        (Some(OffsetSpec::Utc), _) => {
            let utc = parsed.local.and_utc().timestamp();
            return Zoned::from_instant(utc, zone);
        }
        (Some(OffsetSpec::Fixed(offset)), _) => offset,
    };
    if offset_policy == OffsetPolicy::Use {
        let utc = (parsed.local - Duration::seconds(i64::from(offset.local_minus_utc())))
            .and_utc()
            .timestamp();
        return Zoned::from_instant(utc, zone);
    }
    let found = candidates(parsed.local, zone);
    if let Some(hit) = found
        .iter()
        .find(|d| d.offset().fix().local_minus_utc() == offset.local_minus_utc())
    {
        return Ok(zoned_of(*hit));
    }
    if offset_policy == OffsetPolicy::Prefer {
        return resolve(parsed.local, zone, disambiguation);
    }
    let expected = if found.is_empty() {
        "no valid offset (the time falls in a DST gap)".to_string()
    } else {
        found
            .iter()
            .map(|d| format_offset(d.offset().fix().local_minus_utc()))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    Err(TimeError::OffsetMismatch {
        offset: format_offset(offset.local_minus_utc()),
        zone: zone.name().to_string(),
        expected,
        local: fmt_local(parsed.local),
    })
}

/// The first instant of `date` in `zone` (Temporal's `startOfDay`): midnight, or the end of
/// the gap where a zone skips midnight.
pub fn start_of_day(date: NaiveDate, zone: Tz) -> Result<Zoned, TimeError> {
    resolve(
        date.and_time(NaiveTime::MIN),
        zone,
        Disambiguation::Compatible,
    )
}

/// Parses "2024-10-22".
pub fn parse_date(text: &str) -> Result<NaiveDate, TimeError> {
    let text = bounded_time(text.trim())?;
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        TimeError::Unreadable(format!("{text:?} is not a date; write \"2024-10-22\""))
    })?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&date.year()) {
        return Err(TimeError::YearOutOfRange(date.year()));
    }
    Ok(date)
}

/// Serialises a zone by name (`#[serde(with = "entente_time::zone_name")]`): tzdb releases
/// may renumber zones, names are stable.
pub mod zone_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the name.
    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    /// Reads a name.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = <&str>::deserialize(d)?;
        name.parse::<Tz>()
            .map_err(|_| serde::de::Error::custom(format!("unknown zone {name:?}")))
    }
}

/// Stored form of [`Zoned`]: the zone by name (tzdb releases may renumber zones), the wall
/// time as seconds of a UTC-labelled clock, the offset and the instant.
#[derive(Serialize, Deserialize)]
struct ZonedRecord<'a> {
    local: i64,
    zone: &'a str,
    offset_secs: i32,
    utc: i64,
}

impl Serialize for Zoned {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ZonedRecord {
            local: self.local.and_utc().timestamp(),
            zone: self.zone.name(),
            offset_secs: self.offset_secs,
            utc: self.utc,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Zoned {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Zoned, D::Error> {
        use serde::de::Error;
        let r = ZonedRecord::deserialize(d)?;
        let zone = r
            .zone
            .parse::<Tz>()
            .map_err(|_| D::Error::custom(format!("unknown zone {:?}", r.zone)))?;
        let local = DateTime::<Utc>::from_timestamp(r.local, 0)
            .ok_or_else(|| D::Error::custom("wall time out of range"))?
            .naive_utc();
        Ok(Zoned {
            local,
            zone,
            offset_secs: r.offset_secs,
            utc: r.utc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exact_local_reader_agrees_with_chrono() {
        let cases = [
            "2024-10-22",
            "2024-10-22T10:00",
            "2024-10-22T10:00:00",
            "2024-10-22t10:00:00",
            "2024-10-22 10:00",
            "2024-02-29T23:59:59",
            "2023-02-29T10:00",
            "2024-13-01",
            "2024-10-22T24:00",
            "2024-10-22T10:60",
            "2024-10-22T10:00:60",
            "2024-10-22T10:00:00.5",
            "2024-10-22T10:00:00.000",
            "2024-10-22T1:00",
            "2024-10-22X10:00",
            "2024-10-2210:00",
            "0001-01-01T00:00:00",
            "+2024-10-22",
            "2024-1-22",
            "",
        ];
        for text in cases {
            let chrono = parse_local_chrono(text);
            match parse_local_exact(text) {
                Some(fast) => assert_eq!(Some(fast), chrono, "{text:?}"),
                // Declined: the chrono path decides, as before.
                None => assert_eq!(parse_local(text), chrono, "{text:?}"),
            }
        }
    }

    fn local(s: &str) -> NaiveDateTime {
        parse_time(s).map(|p| p.local).expect("test literal")
    }

    fn tz(s: &str) -> Tz {
        parse_zone(s).expect("test zone")
    }

    fn wall(z: &Zoned) -> String {
        format!("{}{}", z.local_string(), z.offset_string())
    }

    /// Table of gap and fold cases under every option, checked against what Temporal's
    /// reference implementation returns for the same input.
    #[test]
    fn gaps_and_folds_follow_temporal() {
        use Disambiguation::*;
        let cases: &[(&str, &str, Disambiguation, Option<&str>)] = &[
            // Spring forward in New York: 02:00 EST -> 03:00 EDT.
            (
                "America/New_York",
                "2024-03-10T02:30",
                Compatible,
                Some("2024-03-10T03:30:00-04:00"),
            ),
            (
                "America/New_York",
                "2024-03-10T02:30",
                Later,
                Some("2024-03-10T03:30:00-04:00"),
            ),
            (
                "America/New_York",
                "2024-03-10T02:30",
                Earlier,
                Some("2024-03-10T01:30:00-05:00"),
            ),
            ("America/New_York", "2024-03-10T02:30", Reject, None),
            // Fall back in New York: 01:30 happens at -04:00 then at -05:00.
            (
                "America/New_York",
                "2024-11-03T01:30",
                Compatible,
                Some("2024-11-03T01:30:00-04:00"),
            ),
            (
                "America/New_York",
                "2024-11-03T01:30",
                Earlier,
                Some("2024-11-03T01:30:00-04:00"),
            ),
            (
                "America/New_York",
                "2024-11-03T01:30",
                Later,
                Some("2024-11-03T01:30:00-05:00"),
            ),
            ("America/New_York", "2024-11-03T01:30", Reject, None),
            // London: 01:00 GMT -> 02:00 BST, and back at 02:00 BST -> 01:00 GMT.
            (
                "Europe/London",
                "2024-03-31T01:15",
                Compatible,
                Some("2024-03-31T02:15:00+01:00"),
            ),
            (
                "Europe/London",
                "2024-03-31T01:15",
                Earlier,
                Some("2024-03-31T00:15:00+00:00"),
            ),
            (
                "Europe/London",
                "2024-10-27T01:15",
                Later,
                Some("2024-10-27T01:15:00+00:00"),
            ),
            (
                "Europe/London",
                "2024-10-27T01:15",
                Compatible,
                Some("2024-10-27T01:15:00+01:00"),
            ),
            // Lord Howe shifts by 30 minutes: 02:00 +10:30 -> 02:30 +11:00 in October.
            (
                "Australia/Lord_Howe",
                "2024-10-06T02:15",
                Compatible,
                Some("2024-10-06T02:45:00+11:00"),
            ),
            (
                "Australia/Lord_Howe",
                "2024-10-06T02:15",
                Earlier,
                Some("2024-10-06T01:45:00+10:30"),
            ),
            ("Australia/Lord_Howe", "2024-10-06T02:15", Reject, None),
            // ...and back 02:00 +11:00 -> 01:30 +10:30 in April.
            (
                "Australia/Lord_Howe",
                "2024-04-07T01:45",
                Earlier,
                Some("2024-04-07T01:45:00+11:00"),
            ),
            (
                "Australia/Lord_Howe",
                "2024-04-07T01:45",
                Later,
                Some("2024-04-07T01:45:00+10:30"),
            ),
            // Kathmandu has no DST: a 45-minute offset, never ambiguous.
            (
                "Asia/Kathmandu",
                "2024-10-11T11:00",
                Reject,
                Some("2024-10-11T11:00:00+05:45"),
            ),
        ];
        for (zone, text, d, want) in cases {
            let got = resolve(local(text), tz(zone), *d);
            match want {
                Some(w) => assert_eq!(
                    got.as_ref().map(wall).as_deref(),
                    Ok(*w),
                    "{zone} {text} {d:?}"
                ),
                None => assert!(
                    got.is_err(),
                    "{zone} {text} {d:?} should be rejected: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn gap_rejection_names_both_alternatives() {
        let err = resolve(
            local("2024-03-10T02:30"),
            tz("America/New_York"),
            Disambiguation::Reject,
        )
        .expect_err("gap");
        let text = err.to_string();
        assert!(
            text.contains("does not exist in America/New_York"),
            "{text}"
        );
        assert!(text.contains("2024-03-10T01:30:00-05:00"), "{text}");
        assert!(text.contains("2024-03-10T03:30:00-04:00"), "{text}");
    }

    #[test]
    fn offsets_are_checked_against_the_zone() {
        let ashgabat = tz("Asia/Ashgabat");
        let p = parse_time("2024-10-11T11:00:00+05:00").expect("parse");
        let z = resolve_parsed(&p, ashgabat, Disambiguation::Reject, OffsetPolicy::Reject)
            .expect("matching offset");
        assert_eq!(wall(&z), "2024-10-11T11:00:00+05:00");

        let p = parse_time("2024-10-11T11:00:00+03:00").expect("parse");
        let err = resolve_parsed(&p, ashgabat, Disambiguation::Reject, OffsetPolicy::Reject)
            .expect_err("contradiction");
        assert!(
            err.to_string().contains("contradicts Asia/Ashgabat"),
            "{err}"
        );
        let used =
            resolve_parsed(&p, ashgabat, Disambiguation::Reject, OffsetPolicy::Use).expect("use");
        assert_eq!(wall(&used), "2024-10-11T13:00:00+05:00");
        let ignored = resolve_parsed(&p, ashgabat, Disambiguation::Reject, OffsetPolicy::Ignore)
            .expect("ignore");
        assert_eq!(wall(&ignored), "2024-10-11T11:00:00+05:00");

        // 'Z' is the exact instant, shown in the zone.
        let p = parse_time("2024-10-11T06:00:00Z").expect("parse");
        let z =
            resolve_parsed(&p, ashgabat, Disambiguation::Reject, OffsetPolicy::Reject).expect("Z");
        assert_eq!(wall(&z), "2024-10-11T11:00:00+05:00");

        // An offset picks the side of a fold.
        let p = parse_time("2024-11-03T01:30-05:00[America/New_York]").expect("parse");
        let z = resolve_parsed(
            &p,
            tz("America/New_York"),
            Disambiguation::Reject,
            OffsetPolicy::Reject,
        )
        .expect("fold with offset");
        assert_eq!(wall(&z), "2024-11-03T01:30:00-05:00");
    }

    #[test]
    fn parses_every_accepted_form() {
        let p = parse_time("2024-10-22T10:00[Europe/Moscow]").expect("rfc9557");
        assert_eq!(p.zone, Some(tz("Europe/Moscow")));
        assert_eq!(p.offset, None);
        let p = parse_time("2024-10-22T10:00:00+03:00[Europe/Moscow][u-ca=iso8601]")
            .expect("rfc9557 with offset and calendar");
        assert!(matches!(p.offset, Some(OffsetSpec::Fixed(_))));
        let p = parse_time("2024-10-22").expect("date");
        assert!(p.date_only);
        assert!(parse_time("2024-10-22 10:00").is_ok());
        assert!(parse_time("2024-10-22T10:00:00.000Z").is_ok());
        for bad in [
            "",
            "tomorrow",
            "2024-13-01T10:00",
            "2024-10-22T25:00",
            "2024-10-22T10:00[Mars/Olympus]",
            "2024-10-22T10:00[!u-ca=hebrew]",
            "2024-10-22T10:00:00.5Z",
            "2024-10-22T10:00+99:00",
            "1800-01-01T10:00",
            "2024-10-22[Europe/Moscow]",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn whole_days_start_at_the_first_instant_of_the_date() {
        let moscow = tz("Europe/Moscow");
        let d = parse_date("2024-10-22").expect("date");
        assert_eq!(
            wall(&start_of_day(d, moscow).expect("sod")),
            "2024-10-22T00:00:00+03:00"
        );
        // Santiago skips midnight on its spring-forward day: the day starts at 01:00.
        let santiago = tz("America/Santiago");
        let d = parse_date("2024-09-08").expect("date");
        assert_eq!(
            wall(&start_of_day(d, santiago).expect("sod")),
            "2024-09-08T01:00:00-03:00"
        );
    }

    #[test]
    fn the_fast_formatters_agree_with_format() {
        use chrono::{NaiveDate, NaiveTime};
        for secs in [
            0,
            1,
            -1,
            3600 * 5 + 45 * 60,
            -(3600 * 9 + 30 * 60),
            -17_762,
            50_400,
            i32::MAX,
            i32::MIN,
        ] {
            let (sign, abs) = (if secs < 0 { '-' } else { '+' }, secs.unsigned_abs());
            let (h, m, s) = (abs / 3600, abs % 3600 / 60, abs % 60);
            let want = if s == 0 {
                format!("{sign}{h:02}:{m:02}")
            } else {
                format!("{sign}{h:02}:{m:02}:{s:02}")
            };
            assert_eq!(format_offset(secs), want, "offset {secs}");
        }
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for year in [-44, 0, 1, 999, 1000, 1969, 2024, 9999, 10_000, 262_142] {
            for _ in 0..50 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let date = NaiveDate::from_yo_opt(year, (rng % 365) as u32 + 1).expect("date");
                let time = NaiveTime::from_num_seconds_from_midnight_opt((rng % 86_400) as u32, 0)
                    .expect("time");
                let local = date.and_time(time);
                let mut got = String::new();
                push_local(&mut got, &local);
                let want = format!(
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                    date.year(),
                    date.month(),
                    date.day(),
                    time.hour(),
                    time.minute(),
                    time.second()
                );
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn abbreviations_and_rendering() {
        let z = resolve(
            local("2024-10-22T10:00"),
            tz("Europe/Moscow"),
            Disambiguation::Reject,
        )
        .expect("resolve");
        assert_eq!(z.abbreviation(), "MSK");
        assert_eq!(z.rfc9557(), "2024-10-22T10:00:00+03:00[Europe/Moscow]");
        let r = z.rendered();
        assert_eq!(
            (r.local.as_str(), r.offset.as_str()),
            (z.local_string().as_str(), z.offset_string().as_str())
        );
        assert_eq!(r.rfc9557, z.rfc9557());
        let tehran = z.in_zone(tz("Asia/Tehran"));
        assert_eq!(wall(&tehran), "2024-10-22T10:30:00+03:30");
        assert_eq!(tehran.utc, z.utc);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        const ZONES: &[&str] = &[
            "America/New_York",
            "Europe/London",
            "Europe/Moscow",
            "Asia/Tehran",
            "Asia/Ashgabat",
            "Asia/Kathmandu",
            "Australia/Lord_Howe",
            "America/Santiago",
            "Pacific/Chatham",
            "UTC",
        ];

        proptest! {
            /// local -> instant -> local round-trips for every wall time that exists.
            #[test]
            fn local_instant_local_round_trips(
                zone in prop::sample::select(ZONES),
                secs in 0i64..(200 * 365 * 86_400),
            ) {
                let zone = tz(zone);
                let base = NaiveDate::from_ymd_opt(1950, 1, 1).expect("date").and_time(NaiveTime::MIN);
                let wall_time = base + Duration::seconds(secs / 60 * 60);
                match resolve(wall_time, zone, Disambiguation::Reject) {
                    Ok(z) => {
                        prop_assert_eq!(z.local, wall_time);
                        prop_assert_eq!(Zoned::from_instant(z.utc, zone).expect("in range").local, wall_time);
                    }
                    Err(TimeError::Ambiguous { .. }) => {
                        for d in [Disambiguation::Earlier, Disambiguation::Later] {
                            let z = resolve(wall_time, zone, d).expect("fold side");
                            prop_assert_eq!(z.local, wall_time);
                        }
                    }
                    Err(TimeError::Gap { .. }) => {
                        // A gap time never round-trips; COMPATIBLE moves it forward.
                        let z = resolve(wall_time, zone, Disambiguation::Compatible).expect("shift");
                        prop_assert!(z.local > wall_time);
                    }
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                }
            }

            /// Rendering an instant in any zone preserves the instant.
            #[test]
            fn rendering_preserves_the_instant(
                from in prop::sample::select(ZONES),
                to in prop::sample::select(ZONES),
                secs in -2_000_000_000i64..7_000_000_000,
            ) {
                let z = Zoned::from_instant(secs, tz(from)).expect("in range");
                let other = z.in_zone(tz(to));
                prop_assert_eq!(other.utc, secs);
                prop_assert_eq!(
                    (other.local - Duration::seconds(i64::from(other.offset_secs))).and_utc().timestamp(),
                    secs
                );
            }
        }
    }
}
