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
use crate::events::WriteOptions;
use crate::events::{Event, TimeOptions};
use crate::grpc::status::OrStatus;
use crate::history::{Action, Revision};
use crate::scheduler::Scheduler;
use crate::service::events::{EVENT_FIELDS, EventQuery, Reply as Answer};
use crate::validate;

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

/// Conflicts out (already redacted by the scheduler for their reader); with `described`
/// false (`CHECK_VIEW_BASIC`), without the sentences.
pub fn report_out(
    s: &Scheduler,
    r: &crate::conflicts::Report,
    zone: Tz,
    described: bool,
) -> (Vec<pb::Conflict>, Vec<pb::TravelCheckSkipped>) {
    let describe = |c: &crate::conflicts::Conflict, z| s.describe_conflict(c, z);
    convert::report(r, zone, described.then_some(&describe as _))
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
        request_id: request_id.to_string(),
        view_zone: view,
        expected_revision: None,
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
            Action::AttendanceChanged => pb::EventAction::AttendanceChanged,
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
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone).or_status()?;
        let mut input =
            convert::event_input(required("event", r.event).or_status()?).or_status()?;
        input.id = requested_id("event_id", &r.event_id, &input.id).or_status()?;
        let mut opts = write_options(
            r.disambiguation,
            r.offset_policy,
            r.allow_conflicts,
            &r.actor,
            &r.request_id,
            view,
        )
        .or_status()?;
        opts.expected_revision = r
            .expected_revision
            .map(|v| {
                u64::try_from(v)
                    .map_err(|_| Error::invalid("expected_revision", "must not be negative"))
            })
            .transpose()
            .or_status()?;
        let w = self
            .scheduler
            .create_event(&who, input, opts)
            .await
            .or_status()?;
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
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone).or_status()?;
        let e = self.scheduler.get_event(&who, &r.id).or_status()?;
        Ok(Response::new(pb::GetEventResponse {
            event: Some(Box::new(self.render(&e, view))),
        }))
    }

    #[instrument(skip_all)]
    async fn list_events(
        &self,
        req: Request<pb::ListEventsRequest>,
    ) -> Reply<pb::ListEventsResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        let view = convert::view_zone("view_zone", &r.view_zone).or_status()?;
        let country = non_empty(r.country_code)
            .map(|c| validate::country_code("country_code", &c))
            .transpose()
            .or_status()?;
        let q = EventQuery {
            window: convert::window(r.window, "window").or_status()?,
            participant: non_empty(r.participant_id),
            venue: non_empty(r.venue_id),
            country,
            forum: non_empty(r.forum_id),
            kind: convert::event_kind(r.kind, "kind").or_status()?,
            status: convert::event_status(r.status, "status").or_status()?,
        };
        let page = self.scheduler.list_events(&who, &q, &page).or_status()?;
        Ok(Response::new(pb::ListEventsResponse {
            events: page.items.iter().map(|e| self.render(e, view)).collect(),
            next_page_token: page.next_page_token,
            revision: page.revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn update_event(
        &self,
        req: Request<pb::UpdateEventRequest>,
    ) -> Reply<pb::UpdateEventResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone).or_status()?;
        let event = required("event", r.event).or_status()?;
        let etag = event.etag.clone();
        let mask = convert::mask(r.update_mask, EVENT_FIELDS).or_status()?;
        let input = convert::event_input(event).or_status()?;
        let opts = write_options(
            r.disambiguation,
            r.offset_policy,
            r.allow_conflicts,
            &r.actor,
            &r.request_id,
            view,
        )
        .or_status()?;
        let w = self
            .scheduler
            .update_event(&who, input, mask, etag, opts)
            .await
            .or_status()?;
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
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let (event, cancelled_event_ids) = self
            .scheduler
            .cancel_event(
                &who,
                &r.id,
                &r.etag,
                crate::events::Cancel {
                    reason: r.reason,
                    cascade: r.cascade,
                    actor: r.actor,
                    request_id: r.request_id,
                },
            )
            .await
            .or_status()?;
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
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone).or_status()?;
        let (event, sidelines, revision) = self
            .scheduler
            .programme(&who, &r.event_id, r.include_cancelled)
            .or_status()?;
        Ok(Response::new(pb::GetProgrammeResponse {
            event: Some(Box::new(self.render(&event, view))),
            sidelines: sidelines.iter().map(|e| self.render(e, view)).collect(),
            revision: revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn get_agenda(&self, req: Request<pb::GetAgendaRequest>) -> Reply<pb::GetAgendaResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        let view = convert::view_zone("view_zone", &r.view_zone).or_status()?;
        let window = convert::window(r.window, "window")
            .or_status()?
            .ok_or_else(|| {
                Error::invalid("window", "is required: the agenda covers a window of time")
            })
            .or_status()?;
        let (participant, page) = self
            .scheduler
            .agenda(
                &who,
                &r.participant_id,
                window,
                r.include_cancelled,
                r.include_declined,
                &page,
            )
            .or_status()?;
        let zone = view.unwrap_or(participant.home_zone);
        Ok(Response::new(pb::GetAgendaResponse {
            events: page
                .items
                .iter()
                .map(|e| self.render(e, Some(zone)))
                .collect(),
            view_zone: zone.name().to_string(),
            next_page_token: page.next_page_token,
            revision: page.revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn list_event_history(
        &self,
        req: Request<pb::ListEventHistoryRequest>,
    ) -> Reply<pb::ListEventHistoryResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        let event = self
            .scheduler
            .get_event(&who, &r.event_id)
            .map_err(|e| match e {
                Error::NotFound { kind, id, .. } => Error::not_found(kind, id, "event_id"),
                other => other,
            })
            .or_status()?;
        let (s, id) = (self.scheduler.clone(), r.event_id.clone());
        let (revisions, next_page_token) =
            super::off_worker(move || s.event_history(&who, &id, &page))
                .await
                .or_status()?;
        Ok(Response::new(pb::ListEventHistoryResponse {
            revisions: revisions
                .iter()
                .map(|rv| revision(rv, &self.scheduler, event.zone()))
                .collect(),
            next_page_token,
        }))
    }

    #[instrument(skip_all, fields(event_id, participant_id))]
    async fn set_attendance(
        &self,
        req: Request<pb::SetAttendanceRequest>,
    ) -> Reply<pb::SetAttendanceResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let span = tracing::Span::current();
        span.record("event_id", r.event_id.as_str());
        span.record("participant_id", r.participant_id.as_str());
        let view = convert::view_zone("view_zone", &r.view_zone).or_status()?;
        let answer = convert::attendance_in(r.attendance, "attendance")
            .or_status()?
            .ok_or_else(|| Error::invalid("attendance", "is required: CONFIRMED or DECLINED"))
            .or_status()?;
        let opts =
            write_options(0, 0, r.allow_conflicts, &r.actor, &r.request_id, view).or_status()?;
        let reply = Answer {
            event_id: r.event_id,
            participant_id: r.participant_id,
            attendance: answer,
            etag: r.etag,
            note: r.note,
        };
        let w = self
            .scheduler
            .set_attendance(&who, reply, opts)
            .await
            .or_status()?;
        let (conflicts, _) = report_out(
            &self.scheduler,
            &w.report,
            view.unwrap_or(w.event.zone()),
            true,
        );
        Ok(Response::new(pb::SetAttendanceResponse {
            event: Some(Box::new(self.render(&w.event, view))),
            conflicts,
        }))
    }

    #[instrument(skip_all)]
    async fn recompute_instants(
        &self,
        req: Request<pb::RecomputeInstantsRequest>,
    ) -> Reply<pb::RecomputeInstantsResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let out = self
            .scheduler
            .recompute_instants(&who, r.dry_run)
            .await
            .or_status()?;
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
