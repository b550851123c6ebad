//! Calendar subscription feeds' use cases: creating one (its secret shown once), listing
//! and deleting an office's feeds, and serving a feed's calendar by its secret (rendered
//! once per revision and day).

use std::sync::Arc;

use crate::audit::method;
use crate::auth::{Principal, digest};
use crate::commit::Put;
use crate::error::{Error, Result};
use crate::ics::feeds::FeedAccess;
use crate::ics::feeds::*;
use crate::ics::{Exported, Scope};
use crate::record::Meta;
use crate::scheduler::Scheduler;
pub use crate::subscription::CalendarFeed;
use crate::validate;

impl Scheduler {
    /// Creates a feed for `who`'s office; returns it and its path (shown this once).
    ///
    /// The secret is kept only as its hash, so a retry with the same `request_id` cannot
    /// show the first path again: it gives the feed a new secret and returns that path,
    /// and the first (which the caller never received) stops working.
    pub async fn create_calendar_feed(
        &self,
        who: &Principal,
        input: FeedInput,
    ) -> Result<(CalendarFeed, String)> {
        crate::policy::require_writer(who)?;
        let display_name = if input.display_name.is_empty() {
            String::new()
        } else {
            // A name like every other: 200 characters (it is the calendar's title in the
            // subscriber's app).
            validate::bounded(
                "feed.display_name",
                &input.display_name,
                validate::MAX_NAME_CHARS,
            )?
        };
        let past_days = days("feed.past_days", input.past_days)?;
        let future_days = days("feed.future_days", input.future_days)?;
        let scope = input.scope.unwrap_or(Scope::All);
        let secret = new_secret()?;
        let secret_sha256 = digest(&secret);
        let retention = self.request_retention_micros();
        let feed = self
            .write(who, method::CREATE_CALENDAR_FEED, move |st, tx, now| {
                crate::policy::require_writer(who)?;
                let retry = crate::scheduler::replay(
                    st,
                    who,
                    &input.request_id,
                    "CreateCalendarFeed",
                    now - retention,
                )?;
                if let Some(prev) = retry {
                    let Some(feed) = st
                        .calendar_feeds
                        .get(&prev.resource_id)
                        .filter(|f| f.visible_to(who))
                    else {
                        return Err(Error::not_found(
                            "calendar feed",
                            prev.resource_id.as_str(),
                            "request_id",
                        ));
                    };
                    let feed = CalendarFeed {
                        secret_sha256,
                        meta: feed.meta.bumped(now),
                        ..feed.clone()
                    };
                    st.put(tx, feed.clone());
                    return Ok(feed);
                }
                // The scope must name something the office can read: a feed of an unknown
                // participant is a typo, and one of a hidden summit would be an oracle.
                let view = crate::redact::View::new(st, who);
                crate::ics::check_scope(view, &scope)?;
                let id = if input.id.is_empty() {
                    // "feed-…": the kind's own name has a space.
                    st.fresh_id("feed", now, |s, id| s.calendar_feeds.contains_key(id))
                } else {
                    st.new_id::<CalendarFeed>("feed.id", &input.id, now)?
                };
                let feed = CalendarFeed {
                    id,
                    display_name,
                    scope,
                    office: who.office.clone(),
                    admin: who.is_admin(),
                    secretariat_of: who.secretariat_of.iter().cloned().collect(),
                    secret_sha256,
                    past_days,
                    future_days,
                    utc_times: input.utc_times,
                    meta: Meta::new(now),
                    creator: who.credential.clone(),
                };
                crate::scheduler::remember(
                    st,
                    tx,
                    who,
                    &input.request_id,
                    "CreateCalendarFeed",
                    &feed.id,
                    Vec::new(),
                    now,
                )?;
                st.put(tx, feed.clone());
                Ok(feed)
            })
            .await?;
        Ok((feed, format!("/ics/{secret}.ics")))
    }

    /// The feeds `who` may see, by id.
    pub fn calendar_feeds(&self, who: &Principal) -> Vec<CalendarFeed> {
        self.read(who, |view| {
            view.state()
                .calendar_feeds
                .values()
                .filter(|f| f.visible_to(who))
                .cloned()
                .collect()
        })
    }

    /// Revokes a feed (its office's editors, or ADMIN). A retry with the same
    /// `request_id` succeeds again.
    pub async fn delete_calendar_feed(
        &self,
        who: &Principal,
        id: &str,
        request_id: &str,
    ) -> Result<()> {
        crate::policy::require_writer(who)?;
        let (id, request_id) = (id.trim().to_string(), request_id.to_string());
        let retention = self.request_retention_micros();
        self.write(who, method::DELETE_CALENDAR_FEED, move |st, tx, now| {
            crate::policy::require_writer(who)?;
            let retry = crate::scheduler::replay(
                st,
                who,
                &request_id,
                "DeleteCalendarFeed",
                now - retention,
            )?;
            if retry.is_some() {
                return Ok(());
            }
            // Another office's feed is NOT_FOUND, as an unknown id is.
            match st.calendar_feeds.get(&id) {
                Some(f) if f.visible_to(who) => {}
                _ => return Err(Error::not_found("calendar feed", id.as_str(), "id")),
            }
            crate::scheduler::remember(
                st,
                tx,
                who,
                &request_id,
                "DeleteCalendarFeed",
                &id,
                Vec::new(),
                now,
            )?;
            st.remove::<CalendarFeed>(tx, &id);
            Ok(())
        })
        .await
    }

    /// The calendar behind a feed's secret, or `None` for an unknown or revoked secret, or
    /// when `vouched` says no token stands behind its creator any more.
    ///
    /// A feed is rendered once per revision and day ([`Cache`]): calendar apps poll, and
    /// twenty of them asking at once for a large feed got twenty renders. A render runs on
    /// the heavy-work pool in the feed's office's turn, so parallel requests for it wait
    /// for the first and then find it rendered.
    pub async fn calendar_feed(
        &self,
        secret: &str,
        vouched: impl FnOnce(&str) -> bool,
    ) -> Option<Result<Arc<RenderedFeed>>> {
        let hash = digest(secret);
        let (feed, revision) = self.read(&Principal::system(), |view| {
            let st = view.state();
            let feed = st
                .calendar_feeds
                .values()
                .find(|f| f.secret_sha256 == hash)
                .cloned();
            feed.map(|f| (f, st.revision))
        })?;
        if !vouched(&feed.creator) {
            return None;
        }
        let today = self.now().div_euclid(1_000_000).div_euclid(86_400) * 86_400;
        if let Some(hit) = self.feed_cache().get(&feed.id, revision, today) {
            return Some(Ok(hit));
        }
        let s = self.clone();
        let office = feed.office.clone();
        let rendered = self
            .pool()
            .run(&office, move |stop| {
                // Another request may have rendered it while this one waited its turn.
                if let Some(hit) = s.feed_cache().get(&feed.id, s.revision(), today) {
                    return Ok(hit);
                }
                stop.check()?;
                let exported = s.render_feed(&feed, today)?;
                // Hashed once per render, not per request: a feed is megabytes.
                let etag = format!("\"{}\"", &digest(&exported.ics)[..32]);
                let out = Arc::new(RenderedFeed { exported, etag });
                s.feed_cache().put(&feed.id, today, out.clone());
                Ok(out)
            })
            .await;
        Some(rendered)
    }

    /// The calendar of `feed` as of now, its window counted from `today` (midnight UTC).
    fn render_feed(&self, feed: &CalendarFeed, today: i64) -> Result<Exported> {
        let window = (
            match feed.past_days {
                0 => i64::MIN,
                d => today - i64::from(d) * 86_400,
            },
            match feed.future_days {
                0 => i64::MAX,
                d => today + (i64::from(d) + 1) * 86_400,
            },
        );
        let name = if feed.display_name.is_empty() {
            format!("entente: {}", feed.id)
        } else {
            feed.display_name.clone()
        };
        let how = crate::ics::ExportOptions {
            include_cancelled: true,
            utc_times: feed.utc_times,
            name,
            // Past MAX_EVENTS, the events nearest the day's start: the same all day, so
            // the render can be kept for the day.
            nearest_to: Some(today),
        };
        self.export_calendar(&feed.principal(), &feed.scope, Some(window), &how)
    }
}
