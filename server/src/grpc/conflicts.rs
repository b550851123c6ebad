//! `entente.v1.ConflictService`: dry-run checks and free/busy. Never writes.

use entente_proto::v1 as pb;
use entente_proto::v1::conflict_service_server::ConflictService;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::access;
use super::convert::{self, required};
use super::events::{check_mask, render, write_options};
use crate::error::Error;
use crate::grpc::status::{OrStatus, to_status};
use crate::scheduler::Scheduler;
use crate::time::Zoned;

/// The conflict service over a scheduler.
#[derive(Debug, Clone)]
pub struct Conflicts {
    scheduler: Scheduler,
}

impl Conflicts {
    /// Serves `scheduler`'s conflict checks.
    pub fn new(scheduler: Scheduler) -> Conflicts {
        Conflicts { scheduler }
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

#[tonic::async_trait]
impl ConflictService for Conflicts {
    #[instrument(skip_all)]
    async fn check_conflicts(
        &self,
        req: Request<pb::CheckConflictsRequest>,
    ) -> Reply<pb::CheckConflictsResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone).or_status()?;
        let input = convert::event_input(required("event", r.event).or_status()?).or_status()?;
        let mask = check_mask(r.update_mask).or_status()?;
        let opts =
            write_options(r.disambiguation, r.offset_policy, false, "", "", view).or_status()?;
        let full = match pb::CheckView::try_from(r.view) {
            Ok(pb::CheckView::Unspecified | pb::CheckView::Full) => true,
            Ok(pb::CheckView::Basic) => false,
            Err(_) => {
                return Err(to_status(Error::invalid(
                    "view",
                    "is not a known CheckView",
                )));
            }
        };
        let (event, report) = self
            .scheduler
            .check_conflicts(&who, &input, &mask, &opts)
            .or_status()?;
        let zone = view.unwrap_or(event.zone());
        let (conflicts, travel_checks_skipped) =
            super::events::report_out(&self.scheduler, &report, zone, full);
        Ok(Response::new(pb::CheckConflictsResponse {
            conflicts,
            travel_checks_skipped,
            event: full.then(|| Box::new(render(&self.scheduler, &event, view))),
        }))
    }

    #[instrument(skip_all)]
    async fn query_free_busy(
        &self,
        req: Request<pb::QueryFreeBusyRequest>,
    ) -> Reply<pb::QueryFreeBusyResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone)
            .or_status()?
            .unwrap_or(chrono_tz::UTC);
        let window = convert::window(r.window, "window")
            .or_status()?
            .ok_or_else(|| Error::invalid("window", "is required"))
            .or_status()?;
        if r.participant_ids.is_empty() && r.venue_ids.is_empty() {
            return Err(to_status(Error::invalid(
                "participant_ids",
                "name at least one participant or venue",
            )));
        }
        let calendars = self
            .scheduler
            .free_busy(
                &who,
                &r.participant_ids,
                &r.venue_ids,
                window,
                !r.exclude_tentative,
            )
            .or_status()?;
        let at = |t: i64| {
            Zoned::from_instant(t, view)
                .ok()
                .map(|z| convert::zoned(&z))
        };
        Ok(Response::new(pb::QueryFreeBusyResponse {
            calendars: calendars
                .into_iter()
                .map(|c| pb::FreeBusyCalendar {
                    participant_id: c.participant_id,
                    venue_id: c.venue_id,
                    busy: c
                        .busy
                        .into_iter()
                        .map(|b| pb::BusyInterval {
                            start: at(b.start),
                            end: at(b.end),
                            // A busy block shows; the scheduler names only the events
                            // the caller may see.
                            event_ids: b.events,
                        })
                        .collect(),
                })
                .collect(),
        }))
    }
}
