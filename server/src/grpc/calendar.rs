//! `entente.v1.CalendarService`: working calendars and the slot finder. Validate, call the
//! scheduler, convert back.

use chrono_tz::Tz;
use entente_proto::v1 as pb;
use entente_proto::v1::calendar_service_server::CalendarService;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::access;
use super::convert::{self, required};
use crate::calendar::{self as cal, HolidayStatus, WorkCalendar, WorkCalendarInput};
use crate::error::{Error, Result};
use crate::grpc::status::OrStatus;
use crate::scheduler::Scheduler;
use crate::slots::{self, Strength};
use crate::time::Zoned;
use crate::validate;

/// The calendar service over a scheduler.
#[derive(Debug, Clone)]
pub struct Calendars {
    scheduler: Scheduler,
}

impl Calendars {
    /// Serves `scheduler`'s working calendars and slot finder.
    pub fn new(scheduler: Scheduler) -> Calendars {
        Calendars { scheduler }
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

/// A working calendar out.
pub fn work_calendar(c: &WorkCalendar) -> pb::WorkCalendar {
    let days = c.days();
    let stored = c.is_stored();
    pb::WorkCalendar {
        country_code: c.country_code.clone(),
        working_days: (0..7u8)
            .filter(|d| days & (1 << d) != 0)
            .map(|d| i32::from(d) + 1)
            .collect(),
        work_week_source: if c.working_days.is_some() {
            pb::WorkWeekSource::Office
        } else {
            pb::WorkWeekSource::Cldr
        } as i32,
        holidays: c
            .holidays
            .iter()
            .map(|h| pb::Holiday {
                date: h.date.to_string(),
                name: h.name.clone(),
                status: status_out(h.status) as i32,
            })
            .collect(),
        etag: if stored { c.meta.etag() } else { String::new() },
        create_time: stored
            .then(|| convert::timestamp(c.meta.create_time))
            .flatten(),
        update_time: stored
            .then(|| convert::timestamp(c.meta.update_time))
            .flatten(),
    }
}

fn status_out(s: HolidayStatus) -> pb::HolidayStatus {
    match s {
        HolidayStatus::Official => pb::HolidayStatus::Official,
        HolidayStatus::Estimated => pb::HolidayStatus::Estimated,
    }
}

fn status_in(field: &str, v: i32) -> Result<HolidayStatus> {
    Ok(match convert::known_enum::<pb::HolidayStatus>(field, v)? {
        pb::HolidayStatus::Unspecified | pb::HolidayStatus::Official => HolidayStatus::Official,
        pb::HolidayStatus::Estimated => HolidayStatus::Estimated,
    })
}

fn calendar_input(c: pb::WorkCalendar) -> Result<WorkCalendarInput> {
    Ok(WorkCalendarInput {
        country_code: c.country_code,
        working_days: c.working_days,
        holidays: c
            .holidays
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                Ok(cal::HolidayInput {
                    status: status_in(&format!("work_calendar.holidays[{i}].status"), h.status)?,
                    date: h.date,
                    name: h.name,
                })
            })
            .collect::<Result<_>>()?,
        etag: c.etag,
        request_id: String::new(),
    })
}

fn strength(field: &str, v: i32) -> Result<Option<Strength>> {
    Ok(
        match convert::known_enum::<pb::ConstraintStrength>(field, v)? {
            pb::ConstraintStrength::Unspecified => None,
            pb::ConstraintStrength::Hard => Some(Strength::Hard),
            pb::ConstraintStrength::Soft => Some(Strength::Soft),
            pb::ConstraintStrength::Ignore => Some(Strength::Off),
        },
    )
}

fn strength_out(hard: bool) -> i32 {
    if hard {
        pb::ConstraintStrength::Hard as i32
    } else {
        pb::ConstraintStrength::Soft as i32
    }
}

/// Whole seconds of a duration; INVALID_ARGUMENT for a negative or fractional one.
fn secs(field: &str, d: Option<prost_types::Duration>) -> Result<Option<i64>> {
    let Some(d) = d else { return Ok(None) };
    if d.seconds < 0 || d.nanos != 0 {
        return Err(Error::invalid(
            field,
            "must be a whole, non-negative number of seconds",
        ));
    }
    Ok(Some(d.seconds))
}

/// "09:00" (or "24:00" for an end) as seconds after midnight.
fn clock(field: &str, v: &str, end: bool) -> Result<Option<i64>> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if end && v == "24:00" {
        return Ok(Some(86_400));
    }
    chrono::NaiveTime::parse_from_str(v, "%H:%M")
        .map(|t| Some(i64::from(chrono::Timelike::num_seconds_from_midnight(&t))))
        .map_err(|_| {
            Error::invalid(
                field,
                format!(
                    "{} is not a time of day: write it as HH:MM, e.g. \"09:00\"",
                    validate::shown(v)
                ),
            )
        })
}

fn overrides(field: &str, c: Option<pb::SlotConstraints>) -> Result<slots::Overrides> {
    let Some(c) = c else {
        return Ok(slots::Overrides::default());
    };
    let f = |name: &str| format!("{field}.{name}");
    let hours = c.working_hours.unwrap_or_default();
    Ok(slots::Overrides {
        hours_start: clock(&f("working_hours.start"), &hours.start, false)?,
        hours_end: clock(&f("working_hours.end"), &hours.end, true)?,
        hours_strength: strength(&f("working_hours.strength"), hours.strength)?,
        work_week: strength(&f("work_week"), c.work_week)?,
        holidays: strength(&f("holidays"), c.holidays)?,
        buffer_before: secs(&f("buffer_before"), c.buffer_before)?,
        buffer_after: secs(&f("buffer_after"), c.buffer_after)?,
        buffers: strength(&f("buffers"), c.buffers)?,
        travel: strength(&f("travel"), c.travel)?,
    })
}

/// A FindSlots request in, and the zone to show its slots in.
pub fn query_in(r: pb::FindSlotsRequest) -> Result<(slots::Query, Tz)> {
    let zone = convert::view_zone("view_zone", &r.view_zone)?;
    let window_zone = r
        .window
        .as_ref()
        .map(|w| validate::optional_zone("window.time_zone", &w.time_zone))
        .transpose()?
        .flatten();
    let window = convert::window(r.window, "window")?;
    let participants = r
        .participants
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(slots::Need {
                participant_id: validate::reference(
                    &format!("participants[{i}].participant_id"),
                    &p.participant_id,
                )?,
                optional: p.optional,
                overrides: overrides(&format!("participants[{i}].constraints"), p.constraints)?,
            })
        })
        .collect::<Result<_>>()?;
    let max_results = usize::try_from(r.max_results)
        .map_err(|_| Error::invalid("max_results", "must not be negative"))?;
    let q = slots::Query {
        participants,
        duration: secs("duration", r.duration)?
            .ok_or_else(|| Error::invalid("duration", "is required"))?,
        window,
        venue_ids: r
            .venue_ids
            .iter()
            .enumerate()
            .map(|(i, v)| validate::reference(&format!("venue_ids[{i}]"), v))
            .collect::<Result<_>>()?,
        city: validate::bounded("city", &r.city, validate::MAX_NAME_CHARS)?,
        parent_event_id: validate::bounded(
            "parent_event_id",
            &r.parent_event_id,
            validate::MAX_REFERENCE_CHARS,
        )?,
        defaults: overrides("constraints", r.constraints)?,
        granularity: secs("granularity", r.granularity)?.unwrap_or(0),
        max_results,
    };
    Ok((q, zone.or(window_zone).unwrap_or(chrono_tz::UTC)))
}

fn slot_status(s: slots::Status) -> pb::SlotStatus {
    use slots::Status as S;
    match s {
        S::Busy => pb::SlotStatus::Busy,
        S::SoftConflict => pb::SlotStatus::SoftConflict,
        S::Buffer => pb::SlotStatus::Buffer,
        S::TravelTight => pb::SlotStatus::TravelTight,
        S::OutsideHours => pb::SlotStatus::OutsideHours,
        S::Weekend => pb::SlotStatus::Weekend,
        S::Holiday => pb::SlotStatus::Holiday,
        S::VenueBusy => pb::SlotStatus::VenueBusy,
    }
}

fn issues_out(issues: &[slots::Issue]) -> Vec<pb::SlotIssue> {
    issues
        .iter()
        .map(|i| pb::SlotIssue {
            status: slot_status(i.status) as i32,
            strength: strength_out(i.hard),
            description: i.description.clone(),
        })
        .collect()
}

/// A FindSlots answer out, times in `zone`.
pub fn found_out(s: &Scheduler, f: &slots::Found, zone: Tz) -> pb::FindSlotsResponse {
    let at = |t: i64, z: Tz| Zoned::from_instant(t, z).ok().map(|z| convert::zoned(&z));
    let describe = |c: &crate::conflicts::Conflict, z| s.describe_conflict(c, z);
    pb::FindSlotsResponse {
        slots: f
            .slots
            .iter()
            .map(|slot| pb::Slot {
                start: at(slot.start, zone),
                end: at(slot.end, zone),
                venue_id: slot.venue_id.clone().unwrap_or_default(),
                attendees: slot
                    .attendees
                    .iter()
                    .map(|a| pb::SlotAttendee {
                        participant_id: a.participant_id.clone(),
                        optional: a.optional,
                        available: a.available,
                        status: a
                            .issues
                            .first()
                            .map_or(pb::SlotStatus::Free, |i| slot_status(i.status))
                            as i32,
                        issues: issues_out(&a.issues),
                        local_start: at(slot.start, a.zone),
                        local_end: at(slot.end, a.zone),
                    })
                    .collect(),
                venue_issues: issues_out(&slot.venue_issues),
                conflicts: slot
                    .conflicts
                    .iter()
                    .map(|c| convert::conflict(c, zone, &describe))
                    .collect(),
                soft_violations: slot.soft_violations as i32,
                optional_available: slot.optional_available as i32,
            })
            .collect(),
        revision: f.revision as i64,
        candidates: f.candidates as i32,
        fitting: f.fitting as i32,
        diagnostics: f
            .diagnostics
            .iter()
            .map(|d| pb::ConstraintDiagnostic {
                participant_id: d.participant_id.clone(),
                venue_id: d.venue_id.clone(),
                constraint: slot_status(d.constraint) as i32,
                excluded_candidates: d.excluded as i32,
                description: d.description.clone(),
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl CalendarService for Calendars {
    #[instrument(skip_all)]
    async fn get_work_calendar(
        &self,
        req: Request<pb::GetWorkCalendarRequest>,
    ) -> Reply<pb::GetWorkCalendarResponse> {
        let who = access::principal(&req)?;
        let c = self
            .scheduler
            .work_calendar(&who, &req.into_inner().country_code)
            .or_status()?;
        Ok(Response::new(pb::GetWorkCalendarResponse {
            work_calendar: Some(work_calendar(&c)),
        }))
    }

    #[instrument(skip_all)]
    async fn list_work_calendars(
        &self,
        req: Request<pb::ListWorkCalendarsRequest>,
    ) -> Reply<pb::ListWorkCalendarsResponse> {
        let who = access::principal(&req)?;
        let page = convert::page(req.get_ref()).or_status()?;
        let page = self.scheduler.list::<WorkCalendar>(&who, &page, |_| true);
        Ok(Response::new(pb::ListWorkCalendarsResponse {
            work_calendars: page.items.iter().map(work_calendar).collect(),
            next_page_token: page.next_page_token,
            revision: page.revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn update_work_calendar(
        &self,
        req: Request<pb::UpdateWorkCalendarRequest>,
    ) -> Reply<pb::UpdateWorkCalendarResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let mask = convert::mask(r.update_mask, cal::FIELDS).or_status()?;
        let mut input =
            calendar_input(required("work_calendar", r.work_calendar).or_status()?).or_status()?;
        input.request_id = r.request_id;
        let c = self
            .scheduler
            .update_work_calendar(&who, input, mask)
            .await
            .or_status()?;
        Ok(Response::new(pb::UpdateWorkCalendarResponse {
            work_calendar: Some(work_calendar(&c)),
        }))
    }

    #[instrument(skip_all)]
    async fn delete_work_calendar(
        &self,
        req: Request<pb::DeleteWorkCalendarRequest>,
    ) -> Reply<pb::DeleteWorkCalendarResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let code = validate::country_code("country_code", &r.country_code).or_status()?;
        self.scheduler
            .delete::<WorkCalendar>(&who, &code, &r.etag, &r.request_id)
            .await
            .or_status()?;
        Ok(Response::new(pb::DeleteWorkCalendarResponse {}))
    }

    #[instrument(skip_all)]
    async fn import_holidays(
        &self,
        req: Request<pb::ImportHolidaysRequest>,
    ) -> Reply<pb::ImportHolidaysResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let default = status_in("default_status", r.default_status).or_status()?;
        let (c, imported, skipped) = self
            .scheduler
            .import_holidays(
                &who,
                &r.country_code,
                &r.icalendar,
                default,
                r.replace,
                r.etag,
            )
            .await
            .or_status()?;
        Ok(Response::new(pb::ImportHolidaysResponse {
            work_calendar: Some(work_calendar(&c)),
            imported: imported as i32,
            skipped,
        }))
    }

    #[instrument(skip_all)]
    async fn find_slots(&self, req: Request<pb::FindSlotsRequest>) -> Reply<pb::FindSlotsResponse> {
        let who = access::principal(&req)?;
        let (q, zone) = query_in(req.into_inner()).or_status()?;
        let s = self.scheduler.clone();
        let office = who.office.to_string();
        let found = self
            .scheduler
            .pool()
            .run(&office, move |stop| s.find_slots_until(&who, &q, stop))
            .await
            .or_status()?;
        Ok(Response::new(found_out(&self.scheduler, &found, zone)))
    }
}
