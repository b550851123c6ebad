//! Field rules shared by every resource: ids, names, country codes, zones, pages.
//!
//! These run inside the scheduler, not only at the gRPC boundary, so that Rust code
//! embedding the scheduler gets exactly the same guarantees as a remote client.

use std::ops::Bound;

use chrono_tz::Tz;

use crate::error::{Error, Result};
use crate::time;

/// Longest display name or title, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest description or note, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Longest client-chosen id.
pub const MAX_ID_CHARS: usize = 63;
/// Page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page served; larger requests are clamped, as AIP-158 recommends.
pub const MAX_PAGE_SIZE: usize = 1000;

/// A client-chosen id: lowercase ASCII letters, digits and '-', starting with a letter,
/// at most 63 characters (AIP-122's resource id rules).
pub fn id(field: &str, value: &str) -> Result<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_ID_CHARS
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.ends_with('-');
    if ok {
        Ok(value.to_string())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "{value:?} is not a valid id: use 1 to {MAX_ID_CHARS} lowercase letters, digits \
                 and '-', starting with a letter (for example \"kazan-summit-2024\")"
            ),
        ))
    }
}

/// A reference to an existing resource: non-empty, and short enough to be an id.
pub fn reference(field: &str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if value.chars().count() > 128 {
        return Err(Error::invalid(field, "is too long to be an id"));
    }
    Ok(value.to_string())
}

/// A required display name or title: trimmed, non-empty, at most [`MAX_NAME_CHARS`].
pub fn name(field: &str, value: &str) -> Result<String> {
    name_ref(field, value).map(str::to_string)
}

/// [`name`] without the copy, for callers that store the name inline.
pub fn name_ref<'a>(field: &str, value: &'a str) -> Result<&'a str> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "is required and cannot be blank"));
    }
    bounded_ref(field, v, MAX_NAME_CHARS)
}

/// Optional free text of at most `max` characters.
pub fn bounded(field: &str, value: &str, max: usize) -> Result<String> {
    bounded_ref(field, value, max).map(str::to_string)
}

/// [`bounded`] without the copy.
pub fn bounded_ref<'a>(field: &str, value: &'a str, max: usize) -> Result<&'a str> {
    let n = value.chars().count();
    if n > max {
        return Err(Error::invalid(
            field,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(value)
}

/// Optional free text.
pub fn text(field: &str, value: &str) -> Result<String> {
    bounded(field, value, MAX_TEXT_CHARS)
}

/// An assigned ISO 3166-1 alpha-2 code, normalised to upper case.
pub fn country_code(field: &str, value: &str) -> Result<String> {
    let upper = value.trim().to_ascii_uppercase();
    if upper.is_empty() {
        return Err(Error::invalid(
            field,
            "an ISO 3166-1 alpha-2 country code is required",
        ));
    }
    match isocountry::CountryCode::for_alpha2(&upper) {
        Ok(_) => Ok(upper),
        Err(_) => Err(Error::invalid(
            field,
            format!(
                "{value:?} is not an ISO 3166-1 alpha-2 country code (for example \"RU\", \"IR\")"
            ),
        )),
    }
}

/// The ISO 3166-1 English short name of a valid code.
pub fn country_name(code: &str) -> String {
    isocountry::CountryCode::for_alpha2(code)
        .map(|c| c.name().to_string())
        .unwrap_or_else(|_| code.to_string())
}

/// A required IANA zone.
pub fn zone(field: &str, value: &str) -> Result<Tz> {
    if value.trim().is_empty() {
        return Err(Error::invalid(
            field,
            "an IANA time zone is required (for example \"Europe/Moscow\")",
        ));
    }
    time::parse_zone(value).map_err(|e| Error::time(field, e))
}

/// An optional IANA zone ("" means none).
pub fn optional_zone(field: &str, value: &str) -> Result<Option<Tz>> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        zone(field, value).map(Some)
    }
}

/// A page request: how many, and after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items at most.
    pub size: usize,
    /// The last key of the previous page.
    pub after: Option<String>,
}

impl PageRequest {
    /// Reads `page_size` and `page_token`.
    pub fn new(page_size: i32, page_token: &str) -> Result<PageRequest> {
        let size = match page_size {
            n if n < 0 => {
                return Err(Error::invalid("page_size", "cannot be negative"));
            }
            0 => DEFAULT_PAGE_SIZE,
            n => (n as usize).min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            Some(decode_token(page_token)?)
        };
        Ok(PageRequest { size, after })
    }

    /// The first page of the default size.
    pub fn first() -> PageRequest {
        PageRequest {
            size: DEFAULT_PAGE_SIZE,
            after: None,
        }
    }
}

impl PageRequest {
    /// The keys a page of a key-ordered map may come from: those after the token's (all,
    /// without one). Pass it to the map's `range`, so a page starts where the last ended.
    pub fn rest(&self) -> (Bound<&str>, Bound<&str>) {
        (
            self.after
                .as_deref()
                .map_or(Bound::Unbounded, Bound::Excluded),
            Bound::Unbounded,
        )
    }

    /// Where a page of a sequence-ordered log resumes: after this sequence (0: the start).
    pub fn after_sequence(&self) -> Result<u64> {
        match &self.after {
            Some(a) => a
                .parse()
                .map_err(|_| Error::invalid("page_token", "is not a token this server issued")),
            None => Ok(0),
        }
    }
}

/// One page of a sequence-ordered log (histories, the audit log): `items` are the entries
/// after the requested one, in order; the token names the last entry served when more
/// follow.
pub fn sequence_page<T>(
    items: impl IntoIterator<Item = Result<T>>,
    sequence: impl Fn(&T) -> u64,
    page: &PageRequest,
) -> Result<(Vec<T>, String)> {
    let mut out = Vec::new();
    for item in items {
        let item = item?;
        if out.len() == page.size {
            let token = out.last().map(|t| encode_token(&sequence(t).to_string()));
            return Ok((out, token.unwrap_or_default()));
        }
        out.push(item);
    }
    Ok((out, String::new()))
}

/// A page token is the last key served, hex-encoded behind a version tag: opaque to
/// clients, stable across restarts, and cheap to resume from in an ordered index.
pub fn encode_token(last_key: &str) -> String {
    let mut out = String::from("1");
    for b in last_key.as_bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn decode_token(token: &str) -> Result<String> {
    let bad = || Error::invalid("page_token", "is not a token this server issued");
    let hex = token.strip_prefix('1').ok_or_else(bad)?;
    if hex.len() % 2 != 0 || hex.len() > 2048 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad()))
        .collect::<Result<Vec<u8>>>()?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// Serves one page from items in key order that start after the token (from a `range`
/// over [`PageRequest::rest`]). Items are drawn only until the page is full and one more
/// shows that another page follows.
pub fn page<K: AsRef<str>, T>(
    items: impl Iterator<Item = (K, T)>,
    req: &PageRequest,
) -> (Vec<T>, String) {
    let mut out = Vec::new();
    let mut last = None;
    let mut more = false;
    for (k, v) in items {
        if out.len() == req.size {
            more = true;
            break;
        }
        out.push(v);
        last = Some(k);
    }
    let token = match (more, last) {
        (true, Some(k)) => encode_token(k.as_ref()),
        _ => String::new(),
    };
    (out, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["brics", "kazan-summit-2024", "a", "p1"] {
            assert!(id("id", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "BRICS",
            "1abc",
            "a b",
            "a_b",
            "end-",
            &"x".repeat(64),
            "пу",
        ] {
            assert!(id("id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn country_codes() {
        assert_eq!(country_code("c", "ru").ok().as_deref(), Some("RU"));
        assert!(country_code("c", "XX").is_err());
        assert!(country_code("c", "RUS").is_err());
        assert!(country_code("c", "").is_err());
        assert_eq!(country_name("TM"), "Turkmenistan");
    }

    #[test]
    fn sequence_pages_resume_after_the_last_entry() {
        let log: Vec<u64> = (1..=7).collect();
        let mut page = PageRequest {
            size: 3,
            after: None,
        };
        let mut seen = Vec::new();
        loop {
            let after = page.after_sequence().expect("token");
            let rest = log.iter().copied().filter(|s| *s > after).map(Ok);
            let (items, token) = sequence_page(rest, |s| *s, &page).expect("page");
            assert!(items.len() <= 3);
            seen.extend(items);
            if token.is_empty() {
                break;
            }
            page.after = Some(decode_token(&token).expect("ours"));
        }
        assert_eq!(seen, log);
        let exact = PageRequest {
            size: 7,
            after: None,
        };
        let (items, token) =
            sequence_page(log.iter().copied().map(Ok), |s| *s, &exact).expect("page");
        assert_eq!(
            (items.len(), token.as_str()),
            (7, ""),
            "no token when nothing follows"
        );
    }

    #[test]
    fn tokens_round_trip_and_reject_forgeries() {
        let t = encode_token("kazan/é");
        assert_eq!(decode_token(&t).ok().as_deref(), Some("kazan/é"));
        assert!(decode_token("zz").is_err());
        assert!(decode_token("1zz").is_err());
        assert!(PageRequest::new(-1, "").is_err());
        assert_eq!(
            PageRequest::new(1_000_000, "").map(|p| p.size).ok(),
            Some(MAX_PAGE_SIZE)
        );
    }
}
