//! `entente.v1.ChangeService`: the change feed, streamed and paged.

use std::pin::Pin;

use chrono_tz::Tz;
use entente_proto::v1 as pb;
use entente_proto::v1::change_service_server::ChangeService;
use futures_util::StreamExt;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::access::{self, Tokens};
use super::convert;
use crate::commit::{Kind, Record};
use crate::error::{Error, Result};
use crate::feed::{ChangeBatch, Filter, Message, Seen, Start, WatchOptions};
use crate::scheduler::Scheduler;

/// The change service over a scheduler.
#[derive(Debug, Clone)]
pub struct Changes {
    scheduler: Scheduler,
    tokens: Tokens,
}

impl Changes {
    /// Serves `scheduler`'s change feed; `tokens` are re-checked as streams run.
    pub fn new(scheduler: Scheduler, tokens: Tokens) -> Changes {
        Changes { scheduler, tokens }
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

fn kind_in(v: i32) -> Result<Option<Kind>> {
    Ok(
        match convert::known_enum::<pb::ResourceKind>("filter.kinds", v)? {
            pb::ResourceKind::Unspecified => None,
            pb::ResourceKind::Country => Some(Kind::Country),
            pb::ResourceKind::Participant => Some(Kind::Participant),
            pb::ResourceKind::Venue => Some(Kind::Venue),
            pb::ResourceKind::Forum => Some(Kind::Forum),
            pb::ResourceKind::Event => Some(Kind::Event),
            pb::ResourceKind::Proposal => Some(Kind::Proposal),
        },
    )
}

fn kind_out(k: Kind) -> pb::ResourceKind {
    match k {
        Kind::Country => pb::ResourceKind::Country,
        Kind::Participant => pb::ResourceKind::Participant,
        Kind::Venue => pb::ResourceKind::Venue,
        Kind::Forum => pb::ResourceKind::Forum,
        Kind::Event => pb::ResourceKind::Event,
        Kind::Proposal => pb::ResourceKind::Proposal,
    }
}

fn filter_in(f: Option<pb::ChangeFilter>) -> Result<Filter> {
    let Some(f) = f else {
        return Ok(Filter::default());
    };
    let id = |s: String, field: &str| -> Result<Option<String>> {
        let s = s.trim();
        if s.is_empty() {
            Ok(None)
        } else {
            crate::validate::reference(field, s).map(Some)
        }
    };
    Ok(Filter {
        kinds: f
            .kinds
            .into_iter()
            .map(kind_in)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect(),
        participant: id(f.participant_id, "filter.participant_id")?,
        venue: id(f.venue_id, "filter.venue_id")?,
        forum: id(f.forum_id, "filter.forum_id")?,
        parent: id(f.parent_event_id, "filter.parent_event_id")?,
        window: convert::window(f.window, "filter.window")?,
    })
}

fn after(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::invalid("after_revision", "cannot be negative"))
}

fn record_out(s: &Scheduler, r: &Record, view: Option<Tz>) -> pb::Resource {
    use pb::resource::Resource as R;
    pb::Resource {
        resource: Some(match r {
            Record::Country(c) => R::Country(convert::country(c)),
            Record::Participant(p) => R::Participant(convert::participant(p)),
            Record::Venue(v) => R::Venue(convert::venue(v)),
            Record::Forum(f) => R::Forum(convert::forum(f)),
            Record::Event(e) => R::Event(super::events::render(s, e, view)),
            Record::Proposal(p) => R::Proposal(super::proposals::proposal_out(p)),
        }),
    }
}

fn batch_out(s: &Scheduler, b: ChangeBatch, view: Option<Tz>) -> pb::ChangeBatch {
    pb::ChangeBatch {
        revision: b.revision as i64,
        commit_time: convert::timestamp(b.time),
        office: b.office,
        token_name: b.token,
        method: b.method,
        changes: b
            .changes
            .into_iter()
            .map(|c| pb::Change {
                r#type: match c.seen {
                    Seen::Created => pb::ChangeType::Created,
                    Seen::Updated => pb::ChangeType::Updated,
                    Seen::Deleted => pb::ChangeType::Deleted,
                    Seen::EnteredView => pb::ChangeType::EnteredView,
                    Seen::LeftView => pb::ChangeType::LeftView,
                } as i32,
                kind: kind_out(c.kind) as i32,
                id: c.id,
                etag: c.etag,
                resource: c.record.as_ref().map(|r| record_out(s, r, view)),
                before: c.before.as_ref().map(|r| record_out(s, r, view)),
            })
            .collect(),
    }
}

type WatchStream = Pin<
    Box<
        dyn futures_util::Stream<Item = std::result::Result<pb::WatchChangesResponse, Status>>
            + Send,
    >,
>;

#[tonic::async_trait]
impl ChangeService for Changes {
    type WatchChangesStream = WatchStream;

    #[instrument(skip_all)]
    async fn watch_changes(
        &self,
        req: Request<pb::WatchChangesRequest>,
    ) -> Reply<Self::WatchChangesStream> {
        let who = access::principal(&req)?;
        // The token is checked again as the stream runs: a revoked one ends it.
        let token = access::bearer(req.metadata().as_ref()).map(str::to_string);
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone)?;
        let start = if r.from_now {
            Start::Now
        } else {
            Start::After(after(r.after_revision)?)
        };
        let filter = filter_in(r.filter)?;
        let tokens = self.tokens.clone();
        let holder = who.clone();
        let still_valid = token.map(|t| {
            std::sync::Arc::new(move || tokens.still_valid(&t, &holder))
                as std::sync::Arc<dyn Fn() -> bool + Send + Sync>
        });
        let watch = self.scheduler.watch(
            who,
            start,
            filter,
            WatchOptions {
                include_before: r.include_before,
                still_valid,
            },
        )?;
        let s = self.scheduler.clone();
        let out = watch.map(move |m| {
            m.map(|m| pb::WatchChangesResponse {
                message: Some(match m {
                    Message::Batch(b) => {
                        pb::watch_changes_response::Message::Batch(batch_out(&s, b, view))
                    }
                    Message::Progress(r) => {
                        pb::watch_changes_response::Message::Progress(pb::Progress {
                            revision: r as i64,
                        })
                    }
                }),
            })
            .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(out)))
    }

    #[instrument(skip_all)]
    async fn list_changes(
        &self,
        req: Request<pb::ListChangesRequest>,
    ) -> Reply<pb::ListChangesResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r)?;
        let view = convert::view_zone("view_zone", &r.view_zone)?;
        let from = after(r.after_revision)?;
        let filter = filter_in(r.filter)?;
        let s = self.scheduler.clone();
        let include_before = r.include_before;
        let (batches, next_page_token, revision) =
            super::off_worker(move || s.list_changes(&who, from, &filter, include_before, &page))
                .await?;
        Ok(Response::new(pb::ListChangesResponse {
            batches: batches
                .into_iter()
                .map(|b| batch_out(&self.scheduler, b, view))
                .collect(),
            next_page_token,
            revision: revision as i64,
        }))
    }
}
