//! `entente.v1.EventService`: convert, call the scheduler, convert back.

use chrono_tz::Tz;
use entente_proto::v1 as pb;
use entente_proto::v1::event_service_server::EventService;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::access;
use super::convert::{self, required};
use crate::directory::{FieldMask, requested_id};
use crate::error::{Error, Result};
use crate::events::ops::{Action, EVENT_FIELDS, EventQuery, Revision, WriteOptions};
use crate::events::{Event, TimeOptions};
use crate::scheduler::Scheduler;
use crate::validate::{self, PageRequest};

/// The event service over a scheduler.
#[derive(Debug, Clone)]
pub struct Events {
    scheduler: Scheduler,
}

impl Events {
    /// Serves `scheduler`'s events.
    pub fn new(scheduler: Scheduler) -> Events {
        Events { scheduler }
    }

    /// An event out, with its venue's city and times in `view`.
    pub fn render(&self, e: &Event, view: Option<Tz>) -> pb::Event {
        render(&self.scheduler, e, view)
    }
}

/// An event out, with its venue's city and times in `view`.
pub fn render(s: &Scheduler, e: &Event, view: Option<Tz>) -> pb::Event {
    convert::event(e, view, &s.venue_city(&e.venue_id), &|c, z| {
        s.describe_conflict(c, z)
    })
}

type Reply<T> = std::result::Result<Response<T>, Status>;

/// Conflicts out, with events the caller may not see reduced to a busy stretch; with
/// `described` false (`CHECK_VIEW_BASIC`), without the sentences.
pub fn report_out(
    s: &Scheduler,
    r: &crate::conflicts::Report,
    zone: Tz,
    described: bool,
) -> (Vec<pb::Conflict>, Vec<pb::TravelCheckSkipped>) {
    let describe = |c: &crate::conflicts::Conflict, z| s.describe_conflict(c, z);
    let (conflicts, skipped) = convert::report(r, zone, described.then_some(&describe as _));
    (hide_invisible(s, conflicts), skipped)
}

fn hide_invisible(s: &Scheduler, mut conflicts: Vec<pb::Conflict>) -> Vec<pb::Conflict> {
    for c in &mut conflicts {
        if !s.caller_sees_event(&c.other_event_id) {
            c.other_event_id.clear();
            c.other_event_title = "(not visible to your office)".into();
        }
    }
    conflicts
}

/// PERMISSION_DENIED unless the caller's office takes part in (or hosts, or runs the forum
/// of) the event described by `input`.
fn may_create(s: &Scheduler, input: &crate::events::EventInput) -> Result<()> {
    let p = access::writer()?;
    if p.is_admin() {
        return Ok(());
    }
    let mut countries = s.participant_countries(&input.participant_ids);
    if !input.host_country_code.trim().is_empty() {
        countries.insert(input.host_country_code.trim().to_ascii_uppercase());
    } else if let Ok(v) = s.get::<crate::directory::Venue>(&input.venue_id) {
        countries.insert(v.country_code);
    }
    let parties = crate::auth::Parties {
        countries,
        forum: (!input.forum_id.is_empty()).then(|| input.forum_id.clone()),
        owner: String::new(),
    };
    if parties.includes(&p) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "office {:?} neither hosts nor takes part in this event",
            p.office
        )))
    }
}

/// Write options from the common request fields.
pub fn write_options(
    disambiguation: i32,
    offset_policy: i32,
    allow_conflicts: bool,
    actor: &str,
    request_id: &str,
    view: Option<Tz>,
) -> Result<WriteOptions> {
    Ok(WriteOptions {
        time: TimeOptions {
            disambiguation: convert::disambiguation(disambiguation)?,
            offset_policy: convert::offset_policy(offset_policy)?,
        },
        allow_conflicts,
        actor: validate::bounded("actor", actor, validate::MAX_NAME_CHARS)?,
        office: access::who().office.clone(),
        request_id: request_id.to_string(),
        view_zone: view,
    })
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn revision(r: &Revision, s: &Scheduler, zone: Tz) -> pb::EventRevision {
    pb::EventRevision {
        revision: r.revision as i64,
        action: match r.action {
            Action::Created => pb::EventAction::Created,
            Action::Updated => pb::EventAction::Updated,
            Action::Cancelled => pb::EventAction::Cancelled,
            Action::InstantsRecomputed => pb::EventAction::InstantsRecomputed,
        } as i32,
        time: convert::timestamp(r.time),
        actor: r.actor.clone(),
        changed_fields: r.changed.clone(),
        overridden_conflicts: r
            .overridden
            .iter()
            .map(|c| convert::conflict(c, zone, &|c, z| s.describe_conflict(c, z)))
            .collect(),
        note: r.note.clone(),
    }
}

#[tonic::async_trait]
impl EventService for Events {
    #[instrument(skip_all, fields(event_id))]
    async fn create_event(
        &self,
        req: Request<pb::CreateEventRequest>,
    ) -> Reply<pb::CreateEventResponse> {
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone)?;
        let mut input = convert::event_input(required("event", r.event)?)?;
        input.id = requested_id("event_id", &r.event_id, &input.id)?;
        may_create(&self.scheduler, &input)?;
        let opts = write_options(
            r.disambiguation,
            r.offset_policy,
            r.allow_conflicts,
            &r.actor,
            &r.request_id,
            view,
        )?;
        let w = self.scheduler.create_event(input, opts).await?;
        tracing::Span::current().record("event_id", w.event.id.as_str());
        let (conflicts, travel_checks_skipped) = report_out(
            &self.scheduler,
            &w.report,
            view.unwrap_or(w.event.zone()),
            true,
        );
        Ok(Response::new(pb::CreateEventResponse {
            event: Some(Box::new(self.render(&w.event, view))),
            conflicts,
            travel_checks_skipped,
        }))
    }

    #[instrument(skip_all)]
    async fn get_event(&self, req: Request<pb::GetEventRequest>) -> Reply<pb::GetEventResponse> {
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone)?;
        let e = access::visible_event(&self.scheduler, self.scheduler.get_event(&r.id)?, "id")?;
        Ok(Response::new(pb::GetEventResponse {
            event: Some(Box::new(self.render(&e, view))),
        }))
    }

    #[instrument(skip_all)]
    async fn list_events(
        &self,
        req: Request<pb::ListEventsRequest>,
    ) -> Reply<pb::ListEventsResponse> {
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone)?;
        let page = PageRequest::new(r.page_size, &r.page_token)?;
        let country = non_empty(r.country_code)
            .map(|c| validate::country_code("country_code", &c))
            .transpose()?;
        let q = EventQuery {
            window: convert::window(r.window, "window")?,
            participant: non_empty(r.participant_id),
            venue: non_empty(r.venue_id),
            country,
            forum: non_empty(r.forum_id),
            kind: convert::event_kind(r.kind, "kind")?,
            status: convert::event_status(r.status, "status")?,
        };
        let (events, next_page_token) = self.scheduler.list_events(&q, &page)?;
        Ok(Response::new(pb::ListEventsResponse {
            events: events
                .iter()
                .filter(|e| access::sees_event(&self.scheduler, e))
                .map(|e| self.render(e, view))
                .collect(),
            next_page_token,
        }))
    }

    #[instrument(skip_all)]
    async fn update_event(
        &self,
        req: Request<pb::UpdateEventRequest>,
    ) -> Reply<pb::UpdateEventResponse> {
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone)?;
        let event = required("event", r.event)?;
        let etag = event.etag.clone();
        let mask = convert::mask(r.update_mask, EVENT_FIELDS)?;
        let input = convert::event_input(event)?;
        let stored = access::visible_event(
            &self.scheduler,
            self.scheduler.get_event(&input.id)?,
            "event.id",
        )?;
        access::may_change_event(&self.scheduler, &stored)?;
        let opts = write_options(
            r.disambiguation,
            r.offset_policy,
            r.allow_conflicts,
            &r.actor,
            "",
            view,
        )?;
        let w = self.scheduler.update_event(input, mask, etag, opts).await?;
        let (conflicts, travel_checks_skipped) = report_out(
            &self.scheduler,
            &w.report,
            view.unwrap_or(w.event.zone()),
            true,
        );
        Ok(Response::new(pb::UpdateEventResponse {
            event: Some(Box::new(self.render(&w.event, view))),
            conflicts,
            travel_checks_skipped,
        }))
    }

    #[instrument(skip_all)]
    async fn cancel_event(
        &self,
        req: Request<pb::CancelEventRequest>,
    ) -> Reply<pb::CancelEventResponse> {
        let r = req.into_inner();
        let stored =
            access::visible_event(&self.scheduler, self.scheduler.get_event(&r.id)?, "id")?;
        access::may_change_event(&self.scheduler, &stored)?;
        let (event, cancelled_event_ids) = self
            .scheduler
            .cancel_event(&r.id, &r.etag, &r.reason, r.cascade, &r.actor)
            .await?;
        Ok(Response::new(pb::CancelEventResponse {
            event: Some(Box::new(self.render(&event, None))),
            cancelled_event_ids,
        }))
    }

    #[instrument(skip_all)]
    async fn get_programme(
        &self,
        req: Request<pb::GetProgrammeRequest>,
    ) -> Reply<pb::GetProgrammeResponse> {
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone)?;
        let (event, sidelines) = self.scheduler.programme(&r.event_id, r.include_cancelled)?;
        let event = access::visible_event(&self.scheduler, event, "event_id")?;
        Ok(Response::new(pb::GetProgrammeResponse {
            event: Some(Box::new(self.render(&event, view))),
            sidelines: sidelines
                .iter()
                .filter(|e| access::sees_event(&self.scheduler, e))
                .map(|e| self.render(e, view))
                .collect(),
        }))
    }

    #[instrument(skip_all)]
    async fn get_agenda(&self, req: Request<pb::GetAgendaRequest>) -> Reply<pb::GetAgendaResponse> {
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone)?;
        let window = convert::window(r.window, "window")?.ok_or_else(|| {
            Error::invalid("window", "is required: the agenda covers a window of time")
        })?;
        let page = PageRequest::new(r.page_size, &r.page_token)?;
        let (participant, events, next_page_token) =
            self.scheduler
                .agenda(&r.participant_id, window, r.include_cancelled, &page)?;
        let zone = view.unwrap_or(participant.home_zone);
        Ok(Response::new(pb::GetAgendaResponse {
            events: events
                .iter()
                .filter(|e| access::sees_event(&self.scheduler, e))
                .map(|e| self.render(e, Some(zone)))
                .collect(),
            view_zone: zone.name().to_string(),
            next_page_token,
        }))
    }

    #[instrument(skip_all)]
    async fn list_event_history(
        &self,
        req: Request<pb::ListEventHistoryRequest>,
    ) -> Reply<pb::ListEventHistoryResponse> {
        let r = req.into_inner();
        let page = PageRequest::new(r.page_size, &r.page_token)?;
        let event = self.scheduler.get_event(&r.event_id).map_err(|e| match e {
            Error::NotFound { kind, id, .. } => Error::not_found(kind, id, "event_id"),
            other => other,
        })?;
        let event = access::visible_event(&self.scheduler, event, "event_id")?;
        let (revisions, next_page_token) = self.scheduler.event_history(&r.event_id, &page)?;
        Ok(Response::new(pb::ListEventHistoryResponse {
            revisions: revisions
                .iter()
                .map(|rv| revision(rv, &self.scheduler, event.zone()))
                .collect(),
            next_page_token,
        }))
    }

    #[instrument(skip_all)]
    async fn recompute_instants(
        &self,
        req: Request<pb::RecomputeInstantsRequest>,
    ) -> Reply<pb::RecomputeInstantsResponse> {
        let r = req.into_inner();
        access::admin()?;
        let out = self.scheduler.recompute_instants(r.dry_run).await?;
        Ok(Response::new(pb::RecomputeInstantsResponse {
            tzdb_version: crate::time::TZDB_VERSION.to_string(),
            examined_count: out.examined as i64,
            moved_events: out
                .moved
                .iter()
                .map(|m| pb::MovedEvent {
                    event_id: m.event.id.to_string(),
                    previous_tzdb_version: m.previous_tzdb.clone(),
                    previous_start_time: convert::timestamp_secs(m.previous_start),
                    previous_end_time: convert::timestamp_secs(m.previous_end),
                    start: Some(convert::zoned(&m.event.start)),
                    end: Some(convert::zoned(&m.event.end)),
                })
                .collect(),
        }))
    }
}

/// The mask of a CheckConflicts edit (shared with the conflict service).
pub fn check_mask(m: Option<prost_types::FieldMask>) -> Result<FieldMask> {
    convert::mask(m, EVENT_FIELDS)
}
