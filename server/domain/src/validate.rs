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

// Error messages quote values and bound references the same way everywhere; both live
// with the error type, the lowest layer, and are named here too for the rules' callers.
pub use crate::error::{MAX_REFERENCE_CHARS, shown};

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
                "{} is not a valid id: use 1 to {MAX_ID_CHARS} lowercase letters, digits \
                 and '-', starting with a letter (for example \"kazan-summit-2024\")",
                shown(value)
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
    let n = value.chars().count();
    if n > MAX_REFERENCE_CHARS {
        return Err(Error::invalid(
            field,
            format!("is {n} characters long; an id has at most {MAX_REFERENCE_CHARS}"),
        ));
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
                "{} is not an ISO 3166-1 alpha-2 country code (for example \"RU\", \"IR\")",
                shown(value)
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

/// A page request: how many, after which key, and the query it pages through.
///
/// A page token names the last key served and the query it was served for (a digest of
/// the request's filters, AIP-158), so a token used with other filters is refused rather
/// than resumed somewhere meaningless. Tokens are opaque to clients but not secret: a
/// forged cursor must be, and is, harmless wherever it points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items at most.
    pub size: usize,
    /// The last key of the previous page.
    pub after: Option<String>,
    /// The digest of the query the pages belong to.
    pub query: u64,
}

/// One page of a list, read at one revision of the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The token of the next page; empty on the last.
    pub next_page_token: String,
    /// The revision the page was read at: a change feed watched after it misses nothing
    /// written since.
    pub revision: u64,
}

/// The version tag of page tokens bound to their query.
const TOKEN_VERSION: char = '2';

impl PageRequest {
    /// Reads `page_size` and `page_token` for the query whose digest is `query`.
    pub fn new(page_size: i32, page_token: &str, query: u64) -> Result<PageRequest> {
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
            Some(decode_token(page_token, query)?)
        };
        Ok(PageRequest { size, after, query })
    }

    /// The first page of the default size, of a query with digest 0 (for in-process use).
    pub fn first() -> PageRequest {
        PageRequest {
            size: DEFAULT_PAGE_SIZE,
            after: None,
            query: 0,
        }
    }

    /// The token of the page that follows `last_key`.
    pub fn token(&self, last_key: &str) -> String {
        let mut out = String::with_capacity(17 + 2 * last_key.len());
        out.push(TOKEN_VERSION);
        out.push_str(&format!("{:016x}", self.query));
        for b in last_key.as_bytes() {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }

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
            Some(a) => a.parse().map_err(|_| bad_token()),
            None => Ok(0),
        }
    }
}

fn bad_token() -> Error {
    Error::invalid(
        "page_token",
        "is not a token this server issued for this query (a page token only continues the \
         list, with the same filters, that returned it)",
    )
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
            let token = out.last().map(|t| page.token(&sequence(t).to_string()));
            return Ok((out, token.unwrap_or_default()));
        }
        out.push(item);
    }
    Ok((out, String::new()))
}

fn decode_token(token: &str, query: u64) -> Result<String> {
    let body = token.strip_prefix(TOKEN_VERSION).ok_or_else(bad_token)?;
    if body.len() < 16 || body.len() % 2 != 0 || body.len() > 2048 || !body.is_ascii() {
        return Err(bad_token());
    }
    let (digest, hex) = body.split_at(16);
    if u64::from_str_radix(digest, 16).ok() != Some(query) {
        return Err(bad_token());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad_token()))
        .collect::<Result<Vec<u8>>>()?;
    String::from_utf8(bytes).map_err(|_| bad_token())
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
        (true, Some(k)) => req.token(k.as_ref()),
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
            query: 7,
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
            page.after = Some(decode_token(&token, 7).expect("ours"));
        }
        assert_eq!(seen, log);
        let exact = PageRequest {
            size: 7,
            after: None,
            query: 7,
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
    fn tokens_round_trip_bound_to_their_query_and_reject_forgeries() {
        let page = PageRequest::new(10, "", 42).expect("first page");
        let t = page.token("kazan/é");
        assert_eq!(decode_token(&t, 42).ok().as_deref(), Some("kazan/é"));
        assert!(decode_token(&t, 43).is_err(), "another query");
        for forged in [
            "zz",
            "1zz",
            "2",
            "2zzzzzzzzzzzzzzzz",
            "2000000000000002a0",
            "2ééééééééé",
        ] {
            assert!(decode_token(forged, 42).is_err(), "{forged}");
        }
        assert!(PageRequest::new(-1, "", 0).is_err());
        assert_eq!(
            PageRequest::new(1_000_000, "", 0).map(|p| p.size).ok(),
            Some(MAX_PAGE_SIZE)
        );
    }
}
