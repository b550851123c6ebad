//! Subscription feeds' stored form: postcard is not self-describing, so a feed carries
//! its own format version (1: before `creator`, read with an empty one; 2: with it).

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::record::Meta;
use crate::subscription::{CalendarFeed, Scope};

/// The format version feeds are written in.
pub const FEED_FORMAT: u8 = 2;

/// A feed as stored in format 1, before it named its creator.
#[derive(Debug, Deserialize, Serialize)]
struct CalendarFeedV1 {
    id: String,
    display_name: String,
    scope: Scope,
    office: String,
    admin: bool,
    secretariat_of: Vec<String>,
    secret_sha256: String,
    past_days: u32,
    future_days: u32,
    utc_times: bool,
    meta: Meta,
}

/// A feed's stored bytes.
pub fn encode(f: &CalendarFeed) -> Vec<u8> {
    crate::storage::encode_version(FEED_FORMAT, f)
}

/// A feed from its stored bytes, in any format this server has written. A feed of format
/// 1 has no creator, and so serves only while access control is off.
pub fn decode(key: &[u8], bytes: &[u8]) -> Result<CalendarFeed> {
    if bytes.first() == Some(&FEED_FORMAT) {
        return crate::storage::decode_version(FEED_FORMAT, key, bytes);
    }
    let f: CalendarFeedV1 = crate::storage::decode(key, bytes)?;
    Ok(CalendarFeed {
        id: f.id,
        display_name: f.display_name,
        scope: f.scope,
        office: f.office,
        admin: f.admin,
        secretariat_of: f.secretariat_of,
        secret_sha256: f.secret_sha256,
        past_days: f.past_days,
        future_days: f.future_days,
        utc_times: f.utc_times,
        meta: f.meta,
        creator: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_stored_before_it_named_its_creator_reads_with_none() {
        let old = CalendarFeedV1 {
            id: "feed-1".into(),
            display_name: "Kazan".into(),
            scope: Scope::All,
            office: "RU".into(),
            admin: false,
            secretariat_of: vec![],
            secret_sha256: "0".repeat(64),
            past_days: 7,
            future_days: 0,
            utc_times: true,
            meta: Meta::new(1),
        };
        let bytes = crate::storage::encode(&old);
        let f = decode(b"k", &bytes).expect("format 1");
        assert_eq!(
            (f.id.as_str(), f.past_days, f.utc_times, f.creator.as_str()),
            ("feed-1", 7, true, "")
        );
        let again = CalendarFeed {
            creator: "c".into(),
            ..f
        };
        assert_eq!(decode(b"k", &encode(&again)).expect("format 2"), again);
    }
}
