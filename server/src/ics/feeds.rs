//! Subscription feeds: capability URLs that calendar apps poll over HTTP GET.
//!
//! An office creates a feed (a scope, a window around today, an option for UTC times) and
//! gets its path `/ics/<secret>.ics` once. The secret is 32 random bytes from the OS
//! (256 bits, hex) and is stored only as its SHA-256, as tokens are: the store, the
//! change feed and `ListCalendarFeeds` never hold it. Whoever has the URL reads what the
//! creating office may see in that scope, as `ListEvents` would show it to that office;
//! deleting the feed revokes the URL at once (404).
//!
//! A feed also records which token created it ([`Principal::credential`]), and serves
//! only while that token is configured and unexpired: revoking or rotating a token on
//! SIGHUP, or its `expires`, ends its feeds too (404), and they come back if it is
//! restored. With access control off, feeds have no token behind them and serve as long
//! as they exist.
//!
//! Stored form: `storage::feeds`.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Exported, Scope};
use crate::auth::{Principal, Role};
use crate::error::{Error, Result};
pub use crate::subscription::CalendarFeed;

/// Who may see a feed, and whom its readers act as (a feed is the domain's record; these
/// are the service's rules about it).
pub trait FeedAccess {
    /// Whether `who` may see (list, delete) this feed: its own office, or an ADMIN.
    fn visible_to(&self, who: &Principal) -> bool;
    /// The principal its readers act as.
    fn principal(&self) -> Principal;
}

impl FeedAccess for CalendarFeed {
    fn visible_to(&self, who: &Principal) -> bool {
        who.is_admin() || who.office == self.office
    }

    fn principal(&self) -> Principal {
        let mut p = Principal::office(
            &self.office,
            &format!("feed {}", self.id),
            if self.admin {
                Role::Admin
            } else {
                Role::Reader
            },
        );
        p.secretariat_of = self.secretariat_of.iter().cloned().collect();
        p
    }
}

/// What a client sends.
#[derive(Debug, Clone, Default)]
pub struct FeedInput {
    /// Optional id.
    pub id: String,
    /// Optional name.
    pub display_name: String,
    /// Which events.
    pub scope: Option<Scope>,
    /// 0: no bound.
    pub past_days: i32,
    /// 0: no bound.
    pub future_days: i32,
    /// UTC instants.
    pub utc_times: bool,
    /// AIP-155 idempotency key: a retry re-issues the feed's secret (see
    /// [`Scheduler::create_calendar_feed`](crate::Scheduler::create_calendar_feed)).
    pub request_id: String,
}

/// A new secret: 32 bytes from the operating system's generator, as hex.
pub(crate) fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Io {
        context: "drawing a feed secret from the operating system".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn days(field: &str, v: i32) -> Result<u32> {
    match v {
        0..=36_600 => Ok(v as u32),
        _ => Err(Error::invalid(
            field,
            format!("must be between 1 and 36600 days (0 for no bound), not {v}"),
        )),
    }
}

/// A feed as rendered, with its ETag.
#[derive(Debug)]
pub struct RenderedFeed {
    /// The calendar.
    pub exported: Exported,
    /// Its ETag (quoted), from the text's digest.
    pub etag: String,
}

/// Rendered feeds: the latest render of each feed, with the revision and day it is of.
/// At most [`Cache::FEEDS`] feeds are kept; past that, the one rendered longest ago goes.
#[derive(Debug, Default)]
pub struct Cache {
    feeds: std::sync::Mutex<HashMap<String, Rendered>>,
    renders: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct Rendered {
    revision: u64,
    today: i64,
    order: u64,
    exported: Arc<RenderedFeed>,
}

impl Cache {
    /// How many feeds' renders are kept (each at most `MAX_EVENTS` events).
    pub const FEEDS: usize = 64;

    pub(crate) fn get(&self, id: &str, revision: u64, today: i64) -> Option<Arc<RenderedFeed>> {
        let feeds = crate::lock(&self.feeds);
        feeds
            .get(id)
            .filter(|r| r.revision == revision && r.today == today)
            .map(|r| r.exported.clone())
    }

    pub(crate) fn put(&self, id: &str, today: i64, exported: Arc<RenderedFeed>) {
        let order = self
            .renders
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut feeds = crate::lock(&self.feeds);
        if feeds.len() >= Self::FEEDS && !feeds.contains_key(id) {
            let oldest = feeds
                .iter()
                .min_by_key(|(_, r)| r.order)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                feeds.remove(&k);
            }
        }
        let revision = exported.exported.revision;
        feeds.insert(
            id.to_string(),
            Rendered {
                revision,
                today,
                order,
                exported,
            },
        );
    }

    /// How many renders have been made (for tests and metrics).
    pub fn renders(&self) -> u64 {
        self.renders.load(std::sync::atomic::Ordering::Relaxed)
    }
}
