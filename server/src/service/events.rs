//! Events' use cases: writes that authorise, validate, check conflicts and store in one
//! atomic step, and the read queries (lists, programmes, agendas, history), each on behalf
//! of an explicit principal and shaped for it by `redact::View`.
//!
//! # Why one file of ~1,100 lines
//! Every event use case in one place: creation, update, cancellation and attendance share
//! the write options, the replay of an event write's idempotency record and the conflict
//! enforcement step, and the queries share paging and redaction. The rules they call are
//! the domain's (`events`, `conflicts`) and the checks against the state `service::checks`.

use std::sync::Arc;

use chrono_tz::Tz;

use crate::audit::method;
use crate::auth::Principal;
use crate::commit::Tx;
use crate::conflicts::{self, Conflict, Report};
use crate::directory::{FieldMask, Participant, Venue};
use crate::error::{Error, Result};
use crate::events::index::{Axis, Cursor};
use crate::events::{
    Attendance, Event, EventInput, EventKind, EventStatus, Override, Resolved, Str, resolve_timing,
};
use crate::events::{Cancel, Recomputed, WriteOptions};
use crate::history::{Action, Revision};
use crate::policy;
use crate::redact::View;
use crate::scheduler::{Meta, RequestRecord, Scheduler, State};
use crate::scheduler::{recompute_all, remember, replay, store_event};
use crate::service::checks::{check_children_fit, check_fields, check_sidelines};
use crate::storage::{self, prefix};
use crate::time::{self, Disambiguation, OffsetPolicy, TZDB_VERSION};
use crate::validate::{self, Page, PageRequest};

/// Updatable event fields.
pub const EVENT_FIELDS: &[&str] = &[
    "kind",
    "title",
    "description",
    "venue_id",
    "host_country_code",
    "forum_id",
    "participant_ids",
    "status",
    "parent_event_id",
    "timing",
    "visibility",
];

/// What a write produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// The event as stored.
    pub event: Arc<Event>,
    /// Soft conflicts and any overridden hard ones, plus skipped travel checks.
    pub report: Report,
}

/// A participant's office answering an event that names them.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The event.
    pub event_id: String,
    /// The participant answering.
    pub participant_id: String,
    /// CONFIRMED or DECLINED.
    pub attendance: Attendance,
    /// When set, must match the event's etag.
    pub etag: String,
    /// Free text for the history.
    pub note: String,
}

/// Filters of a list query.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// `[from, to)` in Unix seconds.
    pub window: Option<(i64, i64)>,
    /// Participant id.
    pub participant: Option<String>,
    /// Venue id.
    pub venue: Option<String>,
    /// Host country code.
    pub country: Option<String>,
    /// Forum id.
    pub forum: Option<String>,
    /// Kind.
    pub kind: Option<EventKind>,
    /// Status; `None` means every status but CANCELLED.
    pub status: Option<EventStatus>,
}

/// One participant's or venue's busy intervals.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// Set for a participant.
    pub participant_id: String,
    /// Set for a venue.
    pub venue_id: String,
    /// Merged, ordered.
    pub busy: Vec<conflicts::Busy>,
}

/// Reads a query window: each bound is an RFC 3339/9557 string, a local date-time or a date
/// (midnight), read in `zone` (UTC when empty). Lenient on DST: a bound in a gap moves
/// forward, a bound in a fold takes the earlier instant.
pub fn parse_window(start: &str, end: &str, zone: &str, field: &str) -> Result<(i64, i64)> {
    let zone = validate::optional_zone(&format!("{field}.time_zone"), zone)?.unwrap_or(Tz::UTC);
    let bound = |text: &str, name: &str| -> Result<i64> {
        let f = format!("{field}.{name}");
        let parsed = time::parse_time(text).map_err(|e| Error::time(&f, e))?;
        let z = parsed.zone.unwrap_or(zone);
        time::resolve_parsed(&parsed, z, Disambiguation::Compatible, OffsetPolicy::Use)
            .map(|z| z.utc)
            .map_err(|e| Error::time(&f, e))
    };
    let (from, to) = (bound(start, "start")?, bound(end, "end")?);
    if to <= from {
        return Err(Error::invalid(
            format!("{field}.end"),
            "the window is empty: its end must be after its start",
        ));
    }
    Ok((from, to))
}

fn input_of(e: &Event) -> EventInput {
    EventInput {
        id: e.id.to_string(),
        kind: Some(e.kind),
        title: e.title.to_string(),
        description: e.description.clone(),
        venue_id: e.venue_id.to_string(),
        host_country_code: e.host_country.to_string(),
        forum_id: e.forum_id.as_deref().unwrap_or_default().to_string(),
        participant_ids: e.participants.iter().map(Str::to_string).collect(),
        status: Some(e.status),
        parent_event_id: e.parent_id.as_deref().unwrap_or_default().to_string(),
        timing: None,
        visibility: Some(e.visibility),
    }
}

/// `input` with the fields outside `mask` taken from `old`.
fn merge(old: &Event, input: &EventInput, mask: &FieldMask) -> EventInput {
    let mut m = input_of(old);
    let take = |p: &str, set: bool| mask.takes(p, set);
    // Enums left unspecified keep their stored value, whatever the mask.
    if let Some(kind) = input.kind.filter(|_| take("kind", true)) {
        m.kind = Some(kind);
    }
    if take("title", !input.title.is_empty()) {
        m.title = input.title.clone();
    }
    if take("description", !input.description.is_empty()) {
        m.description = input.description.clone();
    }
    if take("venue_id", !input.venue_id.is_empty()) {
        m.venue_id = input.venue_id.clone();
    }
    if take("host_country_code", !input.host_country_code.is_empty()) {
        m.host_country_code = input.host_country_code.clone();
    }
    if take("forum_id", !input.forum_id.is_empty()) {
        m.forum_id = input.forum_id.clone();
    }
    if take("participant_ids", !input.participant_ids.is_empty()) {
        m.participant_ids = input.participant_ids.clone();
    }
    if let Some(status) = input.status.filter(|_| take("status", true)) {
        m.status = Some(status);
    }
    if take("parent_event_id", !input.parent_event_id.is_empty()) {
        m.parent_event_id = input.parent_event_id.clone();
    }
    if let Some(visibility) = input.visibility.filter(|_| take("visibility", true)) {
        m.visibility = Some(visibility);
    }
    m
}

/// Builds the event a write would store: fields checked against the state as `view`'s
/// principal sees it, times resolved (or kept from `old` when the timing is not being
/// changed), attendance settled, sidelines rules applied.
fn build(
    view: View<'_>,
    input: &EventInput,
    old: Option<&Event>,
    mask: &FieldMask,
    opts: &WriteOptions,
    id: Str,
    now: i64,
) -> Result<Event> {
    let st = view.state();
    // A new event is checked as given; only an edit needs a merged copy.
    let merged = match old {
        Some(o) => std::borrow::Cow::Owned(merge(o, input, mask)),
        None => std::borrow::Cow::Borrowed(input),
    };
    let checked = check_fields(view, &merged)?;
    let venue = st.get::<Venue>(&checked.venue_id, "event.venue_id")?;
    let new_timing = old.is_none() || mask.takes("timing", input.timing.is_some());
    let resolved = match (&input.timing, old) {
        (Some(t), _) if new_timing => resolve_timing(t, venue.zone, opts.time)?,
        (None, _) if new_timing => return Err(Error::invalid("event.timing", "is required")),
        (_, Some(o)) => Resolved {
            timing: o.timing.clone(),
            start: o.start,
            end: o.end,
        },
        (_, None) => return Err(Error::invalid("event.timing", "is required")),
    };
    let status = match (merged.status, old) {
        (Some(EventStatus::Cancelled), None) => {
            return Err(Error::invalid(
                "event.status",
                "a new event cannot be CANCELLED; create it TENTATIVE or CONFIRMED",
            ));
        }
        (Some(EventStatus::Cancelled), Some(o)) if o.status != EventStatus::Cancelled => {
            return Err(Error::invalid(
                "event.status",
                "use CancelEvent to cancel an event (it records the reason and handles sidelines events)",
            ));
        }
        (Some(s), _) => s,
        // Unless pencilled in explicitly, a new event is firm: the scheduler's promise that
        // nobody is in two places at once holds for a plain create.
        (None, _) => EventStatus::Confirmed,
    };
    let (meta, overrides, owner, reason, tzdb) = match old {
        Some(o) => (
            o.meta.bumped(now),
            o.overrides.clone(),
            o.owner_office.clone(),
            if status == EventStatus::Cancelled {
                o.cancellation_reason.clone()
            } else {
                String::new()
            },
            if new_timing {
                TZDB_VERSION.into()
            } else {
                o.tzdb_version.clone()
            },
        ),
        None => (
            Meta::new(now),
            Vec::new(),
            view.who().office.as_str().into(),
            String::new(),
            TZDB_VERSION.into(),
        ),
    };
    let mut event = Event {
        id,
        kind: checked.kind,
        title: checked.title,
        description: checked.description,
        venue_id: checked.venue_id,
        host_country: checked.host_country,
        forum_id: checked.forum_id,
        participants: checked.participants,
        attendance: Vec::new(),
        status,
        parent_id: checked.parent_id,
        timing: resolved.timing,
        start: resolved.start,
        end: resolved.end,
        tzdb_version: tzdb,
        visibility: checked.visibility,
        owner_office: owner,
        cancellation_reason: reason,
        overrides,
        meta,
    };
    event.attendance = settle_attendance(view, old, &event);
    check_sidelines(view, &event)?;
    if old.is_some() {
        check_children_fit(view, &event)?;
    }
    Ok(event)
}

/// Each participant's attendance after a write by `view`'s principal (RFC 5546's PARTSTAT
/// rules, in diplomatic terms):
/// - a participant the writer answers for (its own office's, or anyone's for ADMIN) is
///   CONFIRMED when added, and keeps their answer otherwise;
/// - anyone else is REQUESTED when added: naming another country's head of state asks
///   their office, it does not book them;
/// - moving the event (its instants or its venue) asks again everyone the writer does not
///   answer for: an answer given for one time and place is not one for another.
fn settle_attendance(view: View<'_>, old: Option<&Event>, new: &Event) -> Vec<Attendance> {
    if old.is_none() && view.who().is_admin() {
        // An administrator answers for everyone: every booking of a server without access
        // control takes this path.
        return vec![Attendance::Confirmed; new.participants.len()];
    }
    let moved = old.is_some_and(|o| {
        o.start.utc != new.start.utc || o.end.utc != new.end.utc || o.venue_id != new.venue_id
    });
    new.participants
        .iter()
        .map(|p| {
            let mine = policy::answers_for(view.state(), view.who(), new, p);
            match old.and_then(|o| o.attendance_of(p)) {
                Some(previous) if mine || !moved => previous,
                Some(_) => Attendance::Requested,
                None if mine => Attendance::Confirmed,
                None => Attendance::Requested,
            }
        })
        .collect()
}

/// Checks conflicts for `event` (only those of participant `only`, when set) and either
/// refuses the write or records the override. Returns the report, redacted for `view`'s
/// principal, and the hard conflicts this write overrode.
fn enforce(
    view: View<'_>,
    event: &mut Event,
    opts: &WriteOptions,
    settings: &crate::Settings,
    now: i64,
    only: Option<&str>,
) -> Result<(Report, Vec<Conflict>)> {
    let mut report = conflicts::check(view.state(), event, &settings.travel);
    if let Some(p) = only {
        report
            .conflicts
            .retain(|c| c.participant.as_deref() == Some(p));
        report.skipped.retain(|s| s.participant.as_str() == p);
    }
    let mut hard = report.hard();
    if !hard.is_empty() {
        if !opts.allow_conflicts {
            return Err(crate::redact::conflict_rejection(
                &view,
                &hard,
                opts.view_zone.unwrap_or(event.zone()),
            ));
        }
        // Stored: the names as they are now, for good.
        for c in &mut hard {
            conflicts::freeze_names(view.state(), c);
        }
        event.overrides.push(Override {
            time: now,
            actor: opts.actor.clone(),
            conflicts: hard.clone(),
        });
    }
    Ok((view.report(report), hard))
}

fn changed_fields(old: &Event, new: &Event) -> Vec<String> {
    let mut out = Vec::new();
    let mut diff = |name: &str, same: bool| {
        if !same {
            out.push(name.to_string());
        }
    };
    diff("kind", old.kind == new.kind);
    diff("title", old.title == new.title);
    diff("description", old.description == new.description);
    diff("venue_id", old.venue_id == new.venue_id);
    diff("host_country_code", old.host_country == new.host_country);
    diff("forum_id", old.forum_id == new.forum_id);
    diff("participant_ids", old.participants == new.participants);
    // A participant added or removed is a change of participant_ids; attendance changes
    // when someone named before and after has another answer (a move asking again).
    diff(
        "attendance",
        new.participants.iter().all(|p| {
            old.attendance_of(p)
                .is_none_or(|a| new.attendance_of(p) == Some(a))
        }),
    );
    diff("status", old.status == new.status);
    diff("parent_event_id", old.parent_id == new.parent_id);
    diff(
        "timing",
        old.timing == new.timing && old.start == new.start && old.end == new.end,
    );
    diff("visibility", old.visibility == new.visibility);
    out
}

/// The first result of a replayed event write: the event as that write left it (its
/// snapshot), if `who` may still see the event, as they may read it now.
fn replayed_event(st: &State, who: &Principal, prev: &RequestRecord) -> Result<Arc<Event>> {
    policy::visible_event(st, who, &prev.resource_id, "request_id")?;
    let e = crate::storage::events::decode(prev.request_id.as_bytes(), &prev.snapshot)?;
    Ok(View::new(st, who).event(&Arc::new(e)))
}

/// Records that `who`'s `request_id` left `event` as it is, for [`replayed_event`].
fn remember_event(
    st: &mut State,
    tx: &mut Tx,
    who: &Principal,
    request_id: &str,
    method: &str,
    event: &Event,
    now: i64,
) -> Result<()> {
    let snapshot = crate::storage::events::encode(event);
    remember(st, tx, who, request_id, method, &event.id, snapshot, now)
}

impl Scheduler {
    /// Schedules an event on behalf of `who`: authorises, validates it, resolves its times,
    /// enforces conflicts and stores it, all in one atomic, durable step. The reply is
    /// `who`'s to read (conflicts with events it may not see are anonymous).
    pub async fn create_event(
        &self,
        who: &Principal,
        input: EventInput,
        opts: WriteOptions,
    ) -> Result<Written> {
        let settings = self.settings().clone();
        let retention = self.request_retention_micros();
        self.write(who, method::CREATE_EVENT, move |st, tx, now| {
            policy::require_writer(who)?;
            let retained = now - retention;
            if let Some(prev) = replay(st, who, &opts.request_id, "CreateEvent", retained)? {
                let view = View::new(st, who);
                let event = policy::visible_event(st, who, &prev.resource_id, "request_id")?;
                return Ok(Written {
                    event: view.event(event),
                    report: Report::default(),
                });
            }
            if let Some(expected) = opts.expected_revision
                && expected != st.revision
            {
                return Err(Error::Aborted(format!(
                    "the calendar has changed since revision {expected} (it is at revision {} \
                     now): search again, or book without expected_revision and let conflict \
                     enforcement decide",
                    st.revision
                )));
            }
            let id = if input.id.is_empty() {
                st.fresh_id("event", now, |s, id| s.events.get(id).is_some())
            } else {
                let id = validate::id("event_id", &input.id)?;
                // A taken id is ALREADY_EXISTS even when the event is hidden from the
                // caller: ids are unique, and that is the one existence oracle left
                // (README, "Access control").
                if st.events.get(&id).is_some() {
                    return Err(Error::AlreadyExists { kind: "event", id });
                }
                id
            };
            let view = View::new(st, who);
            let mut event = build(view, &input, None, &FieldMask::All, &opts, id.into(), now)?;
            policy::require_create_event(st, who, &event)?;
            let (report, overridden) = enforce(view, &mut event, &opts, &settings, now, None)?;
            remember(
                st,
                tx,
                who,
                &opts.request_id,
                "CreateEvent",
                &event.id,
                Vec::new(),
                now,
            )?;
            let revision = Revision {
                revision: event.meta.revision,
                action: Action::Created,
                time: now,
                actor: opts.actor.clone(),
                changed: Vec::new(),
                overridden,
                note: String::new(),
            };
            let event = store_event(st, tx, event, revision);
            Ok(Written {
                event: View::new(st, who).event(&event),
                report,
            })
        })
        .await
    }

    /// Changes the fields in `mask` (all when empty). Moving or confirming the event
    /// re-checks its conflicts; moving a parent may not strand its sidelines events.
    pub async fn update_event(
        &self,
        who: &Principal,
        input: EventInput,
        mask: FieldMask,
        etag: String,
        opts: WriteOptions,
    ) -> Result<Written> {
        let settings = self.settings().clone();
        let retention = self.request_retention_micros();
        self.write(who, method::UPDATE_EVENT, move |st, tx, now| {
            if let Some(prev) = replay(st, who, &opts.request_id, "UpdateEvent", now - retention)? {
                return Ok(Written {
                    event: replayed_event(st, who, &prev)?,
                    report: Report::default(),
                });
            }
            let old = policy::visible_event(st, who, &input.id, "event.id")?.clone();
            policy::require_change_event(st, who, &old)?;
            old.meta.check_etag(&etag, "event", &old.id)?;
            let view = View::new(st, who);
            let mut event = build(view, &input, Some(&old), &mask, &opts, old.id.clone(), now)?;
            let (report, overridden) = enforce(view, &mut event, &opts, &settings, now, None)?;
            let revision = Revision {
                revision: event.meta.revision,
                action: Action::Updated,
                time: now,
                actor: opts.actor.clone(),
                changed: changed_fields(&old, &event),
                overridden,
                note: String::new(),
            };
            let event = store_event(st, tx, event, revision);
            remember_event(st, tx, who, &opts.request_id, "UpdateEvent", &event, now)?;
            Ok(Written {
                event: View::new(st, who).event(&event),
                report,
            })
        })
        .await
    }

    /// Records a participant's answer to an event that names them: CONFIRMED or DECLINED,
    /// by their own office (or ADMIN, or a secretariat they delegated to for its forum's
    /// events). Confirming re-checks that participant's conflicts, which then count HARD
    /// against their confirmed engagements.
    pub async fn set_attendance(
        &self,
        who: &Principal,
        reply: Reply,
        opts: WriteOptions,
    ) -> Result<Written> {
        let Reply {
            event_id,
            participant_id: participant,
            attendance: answer,
            etag,
            note,
        } = reply;
        if answer == Attendance::Requested {
            return Err(Error::invalid(
                "attendance",
                "answer CONFIRMED or DECLINED; REQUESTED is what naming a participant asks",
            ));
        }
        let note = validate::text("note", &note)?;
        let (event_id, participant) = (event_id.trim().to_string(), participant.trim().to_string());
        let settings = self.settings().clone();
        let retention = self.request_retention_micros();
        self.write(who, method::SET_ATTENDANCE, move |st, tx, now| {
            policy::require_writer(who)?;
            if let Some(prev) = replay(st, who, &opts.request_id, "SetAttendance", now - retention)?
            {
                return Ok(Written {
                    event: replayed_event(st, who, &prev)?,
                    report: Report::default(),
                });
            }
            let old = policy::visible_event(st, who, &event_id, "event_id")?.clone();
            let Some(i) = old.participants.iter().position(|p| *p == participant) else {
                return Err(Error::not_found(
                    "participant",
                    participant.as_str(),
                    "participant_id",
                ));
            };
            if !policy::answers_for(st, who, &old, &participant) {
                return Err(Error::PermissionDenied(format!(
                    "office {:?} does not answer for participant {participant:?}: their own \
                     office does",
                    who.office
                )));
            }
            old.meta.check_etag(&etag, "event", &old.id)?;
            let mut event = (*old).clone();
            event
                .attendance
                .resize(event.participants.len(), Attendance::Confirmed);
            if event.attendance[i] == answer {
                return Ok(Written {
                    event: View::new(st, who).event(&old),
                    report: Report::default(),
                });
            }
            event.attendance[i] = answer;
            event.meta = old.meta.bumped(now);
            // Only this participant's calendar is the answering office's concern.
            let view = View::new(st, who);
            let (report, overridden) =
                enforce(view, &mut event, &opts, &settings, now, Some(&participant))?;
            let answer_name = match answer {
                Attendance::Confirmed => "CONFIRMED",
                Attendance::Declined => "DECLINED",
                Attendance::Requested => "REQUESTED",
            };
            let revision = Revision {
                revision: event.meta.revision,
                action: Action::AttendanceChanged,
                time: now,
                actor: opts.actor.clone(),
                changed: vec!["attendance".into()],
                overridden,
                note: if note.is_empty() {
                    format!("{participant}: {answer_name}")
                } else {
                    format!("{participant}: {answer_name}: {note}")
                },
            };
            let event = store_event(st, tx, event, revision);
            remember_event(st, tx, who, &opts.request_id, "SetAttendance", &event, now)?;
            Ok(Written {
                event: View::new(st, who).event(&event),
                report,
            })
        })
        .await
    }

    /// Cancels an event (it stays readable and stops counting in conflicts). With
    /// `cascade`, its live sidelines events are cancelled too; without, an event that still
    /// has some is refused, naming those `who` may see. Returns the event and the ids of
    /// the sidelines events cancelled with it that `who` may see.
    pub async fn cancel_event(
        &self,
        who: &Principal,
        id: &str,
        etag: &str,
        how: Cancel,
    ) -> Result<(Arc<Event>, Vec<String>)> {
        let (id, etag) = (id.to_string(), etag.to_string());
        let Cancel {
            reason,
            cascade,
            actor,
            request_id,
        } = how;
        let reason = validate::text("reason", &reason)?;
        let retention = self.request_retention_micros();
        self.write(who, method::CANCEL_EVENT, move |st, tx, now| {
            if let Some(prev) = replay(st, who, &request_id, "CancelEvent", now - retention)? {
                // The event as cancelled, and the sidelines cancelled with it.
                let (event, cancelled): (Vec<u8>, Vec<String>) =
                    storage::decode(prev.request_id.as_bytes(), &prev.snapshot)?;
                let first = RequestRecord {
                    snapshot: event,
                    ..prev
                };
                let view = View::new(st, who);
                return Ok((replayed_event(st, who, &first)?, view.event_ids(cancelled)));
            }
            let old = policy::visible_event(st, who, &id, "id")?.clone();
            policy::require_change_event(st, who, &old)?;
            old.meta.check_etag(&etag, "event", &id)?;
            if old.status == EventStatus::Cancelled {
                return Err(Error::precondition(
                    "STATUS",
                    format!("events/{id}"),
                    format!("{:?} is already cancelled", old.title),
                ));
            }
            let live: Vec<Arc<Event>> = st
                .events
                .descendants(&id)
                .iter()
                .filter_map(|d| st.events.get(d).cloned())
                .filter(|e| e.is_live())
                .collect();
            if !live.is_empty() && !cascade {
                let view = View::new(st, who);
                return Err(Error::FailedPrecondition {
                    message: format!(
                        "{:?} still has {} live event(s) on its sidelines ({}); cancel them first \
                         or cancel with cascade",
                        old.title,
                        live.len(),
                        live.iter()
                            .map(|e| view.mention(e))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    violations: live
                        .iter()
                        .map(|e| crate::error::Precondition {
                            kind: "SIDELINES_LIVE".into(),
                            subject: view.subject(e),
                            description: format!(
                                "{} is on its sidelines and not cancelled",
                                view.mention(e)
                            ),
                        })
                        .collect(),
                });
            }
            let mut cancelled = Vec::new();
            for e in std::iter::once(old.clone()).chain(live) {
                let mut next = (*e).clone();
                next.status = EventStatus::Cancelled;
                next.cancellation_reason = if e.id == id {
                    reason.clone()
                } else {
                    format!("cancelled with {:?}: {reason}", old.title)
                };
                next.meta = e.meta.bumped(now);
                let revision = Revision {
                    revision: next.meta.revision,
                    action: Action::Cancelled,
                    time: now,
                    actor: actor.clone(),
                    changed: vec!["status".into()],
                    overridden: Vec::new(),
                    note: next.cancellation_reason.clone(),
                };
                if e.id != id {
                    cancelled.push(e.id.to_string());
                }
                store_event(st, tx, next, revision);
            }
            let event = st.events.get(&id).cloned().unwrap_or(old);
            let snapshot =
                storage::encode(&(crate::storage::events::encode(&event), cancelled.clone()));
            remember(st, tx, who, &request_id, "CancelEvent", &id, snapshot, now)?;
            let view = View::new(st, who);
            Ok((view.event(&event), view.event_ids(cancelled)))
        })
        .await
    }

    /// One event, if `who` may see it (NOT_FOUND otherwise, as for an unknown id).
    pub fn get_event(&self, who: &Principal, id: &str) -> Result<Arc<Event>> {
        self.read(who, |view| {
            policy::visible_event(view.state(), who, id, "id").map(|e| view.event(e))
        })
    }

    /// The events matching `q` that `who` may see, ordered by start then id, one page at a
    /// time (pages are full: visibility is applied before paging).
    pub fn list_events(
        &self,
        who: &Principal,
        q: &EventQuery,
        page: &PageRequest,
    ) -> Result<Page<Arc<Event>>> {
        self.read(who, |view| {
            let st = view.state();
            let axis = match (&q.participant, &q.venue) {
                (Some(p), _) => Axis::Participant(p),
                (None, Some(v)) => Axis::Venue(v),
                (None, None) => Axis::All,
            };
            let cursor = page.after.as_deref().map(decode_cursor).transpose()?;
            let (from, to) = q.window.unwrap_or((i64::MIN, i64::MAX));
            let keep = |e: &Event| {
                q.participant
                    .as_ref()
                    .is_none_or(|p| e.participants.iter().any(|x| x == p))
                    && q.venue.as_ref().is_none_or(|v| e.venue_id == *v)
                    && q.country.as_ref().is_none_or(|c| e.host_country == *c)
                    && q.forum
                        .as_ref()
                        .is_none_or(|f| e.forum_id.as_deref() == Some(f.as_str()))
                    && q.kind.is_none_or(|k| e.kind == k)
                    && match q.status {
                        Some(s) => e.status == s,
                        None => e.is_live(),
                    }
                    && view.sees(e)
            };
            let iter = st
                .events
                .window(axis, from, to, cursor.as_ref())
                .filter(|e| keep(e));
            let (events, token) = paginate(iter, page);
            Ok(Page {
                items: events.iter().map(|e| view.event(e)).collect(),
                next_page_token: token,
                revision: st.revision,
            })
        })
    }

    /// A summit's programme: the event and everything on its sidelines that `who` may see,
    /// in order.
    pub fn programme(
        &self,
        who: &Principal,
        id: &str,
        include_cancelled: bool,
    ) -> Result<(Arc<Event>, Vec<Arc<Event>>, u64)> {
        self.read(who, |view| {
            let st = view.state();
            let event = view.event(policy::visible_event(st, who, id, "event_id")?);
            let mut sidelines: Vec<Arc<Event>> = st
                .events
                .descendants(id)
                .iter()
                .filter_map(|d| st.events.get(d))
                .filter(|e| (include_cancelled || e.is_live()) && view.sees(e))
                .map(|e| view.event(e))
                .collect();
            sidelines.sort_by(|a, b| (a.start.utc, &a.id).cmp(&(b.start.utc, &b.id)));
            Ok((event, sidelines, st.revision))
        })
    }

    /// One participant's events overlapping `[from, to)` that `who` may see, ordered by
    /// start: those they attend or are asked to attend, and with `include_declined` those
    /// their office declined.
    pub fn agenda(
        &self,
        who: &Principal,
        participant: &str,
        window: (i64, i64),
        include_cancelled: bool,
        include_declined: bool,
        page: &PageRequest,
    ) -> Result<(Participant, Page<Arc<Event>>)> {
        self.read(who, |view| {
            let st = view.state();
            let p = st
                .get::<Participant>(participant, "participant_id")?
                .clone();
            let cursor = page.after.as_deref().map(decode_cursor).transpose()?;
            let iter = st
                .events
                .window(
                    Axis::Participant(participant),
                    window.0,
                    window.1,
                    cursor.as_ref(),
                )
                .filter(|e| {
                    (include_cancelled || e.is_live())
                        && (include_declined
                            || e.attendance_of(participant) != Some(Attendance::Declined))
                        && view.sees(e)
                });
            let (events, token) = paginate(iter, page);
            Ok((
                p,
                Page {
                    items: events.iter().map(|e| view.event(e)).collect(),
                    next_page_token: token,
                    revision: st.revision,
                },
            ))
        })
    }

    /// An event's history, oldest first, if `who` may see the event.
    pub fn event_history(
        &self,
        who: &Principal,
        id: &str,
        page: &PageRequest,
    ) -> Result<(Vec<Revision>, String)> {
        self.read(who, |view| {
            policy::visible_event(view.state(), who, id, "event_id").map(|_| ())
        })?;
        let mut key = storage::key(prefix::EVENT_HISTORY, id);
        key.push(0);
        let after = page.after_sequence()?;
        let rows =
            self.store()
                .scan_from(&key, &after.saturating_add(1).to_be_bytes(), page.size + 1)?;
        let (revisions, token) = validate::sequence_page(
            rows.iter()
                .map(|(k, v)| crate::storage::events::decode_revision(k, v)),
            |r| r.revision,
            page,
        )?;
        // Redacted against the state as it is now: an event hidden since it was overridden
        // is hidden in the history too.
        let revisions = self.read(who, |view| {
            revisions.into_iter().map(|r| view.revision(r)).collect()
        });
        Ok((revisions, token))
    }

    /// Recomputes every event's instants from its stored wall time with this server's tzdb
    /// and reports those that moved; with `dry_run`, writes nothing. ADMIN only.
    pub async fn recompute_instants(&self, who: &Principal, dry_run: bool) -> Result<Recomputed> {
        policy::require_admin(who)?;
        self.write(who, method::RECOMPUTE_INSTANTS, move |st, tx, now| {
            Ok(recompute_all(st, tx, now, dry_run))
        })
        .await
    }

    /// Every conflict a proposed event would have, as `who` may read them; writes nothing.
    /// When `input.id` names a stored event `who` may see, this is an edit of it, merged
    /// under `mask` as an update would be; any other id (unknown, or hidden from `who`) is
    /// a new event that would carry it.
    pub fn check_conflicts(
        &self,
        who: &Principal,
        input: &EventInput,
        mask: &FieldMask,
        opts: &WriteOptions,
    ) -> Result<(Event, Report)> {
        self.check_conflicts_after(who, input, mask, opts, None)
    }

    /// [`Scheduler::check_conflicts`] of an edit of `prior`, an event as an earlier step of
    /// a dry run left it (the state does not hold it), rather than of the stored one.
    pub(crate) fn check_conflicts_after(
        &self,
        who: &Principal,
        input: &EventInput,
        mask: &FieldMask,
        opts: &WriteOptions,
        prior: Option<&Arc<Event>>,
    ) -> Result<(Event, Report)> {
        let now = self.now();
        // The check asks "what if my office wrote this?", so attendance is settled as for
        // an editor of the caller's office, whatever the token's role.
        let writer;
        let as_writer = if who.can_write() {
            who
        } else {
            writer = Principal {
                role: crate::auth::Role::Editor,
                ..who.clone()
            };
            &writer
        };
        self.read(as_writer, |view| {
            let st = view.state();
            let old = if let Some(p) = prior {
                Some(p.clone())
            } else if input.id.is_empty() {
                None
            } else {
                st.events.get(&input.id).filter(|e| view.sees(e)).cloned()
            };
            // A new event whose id is taken by a hidden one is checked under no id at all,
            // so that it is not taken for that event (nor for its sidelines).
            let (id, shown) = match &old {
                Some(o) => (o.id.clone(), None),
                None if input.id.is_empty() => ("(proposed)".into(), None),
                None if st.events.get(&input.id).is_some() => {
                    (Str::default(), Some(Str::from(input.id.as_str())))
                }
                None => (input.id.as_str().into(), None),
            };
            let mut event = build(view, input, old.as_deref(), mask, opts, id, now)?;
            let report = view.report(conflicts::check(st, &event, &self.settings().travel));
            if let Some(shown) = shown {
                event.id = shown;
            }
            Ok((event, report))
        })
    }

    /// The error a write with these hard conflicts gets, as `who` may read it, times in
    /// `zone`.
    pub(crate) fn conflict_rejection(&self, who: &Principal, hard: &[Conflict], zone: Tz) -> Error {
        self.read(who, |view| {
            crate::redact::conflict_rejection(&view, hard, zone)
        })
    }

    /// What the write of `new` (an edit of the stored `old`, or a new event) would be
    /// refused for before its conflicts are weighed: the caller's right to change `old` or
    /// to create `new`, and an id already taken (by an event the caller may not see, too).
    /// A dry run asks it so as to answer as the write would.
    pub(crate) fn may_write_event(
        &self,
        who: &Principal,
        old: Option<&Event>,
        new: &Event,
    ) -> Result<()> {
        self.read(who, |view| {
            let st = view.state();
            match old {
                Some(old) => policy::require_change_event(st, who, old),
                None => {
                    if st.events.get(&new.id).is_some() {
                        return Err(Error::AlreadyExists {
                            kind: "event",
                            id: new.id.to_string(),
                        });
                    }
                    policy::require_create_event(st, who, new)
                }
            }
        })
    }

    /// Merged busy intervals for each participant, then each venue, over `[from, to)`:
    /// every busy stretch shows, but it names only events `who` may see.
    pub fn free_busy(
        &self,
        who: &Principal,
        participants: &[String],
        venues: &[String],
        window: (i64, i64),
        include_tentative: bool,
    ) -> Result<Vec<Calendar>> {
        free_busy_bounds(participants, venues, window)?;
        self.read(who, |view| {
            let st = view.state();
            let busy = |axis| {
                conflicts::busy(st, axis, window.0, window.1, include_tentative)
                    .into_iter()
                    .map(|mut b| {
                        b.events = view.event_ids(b.events);
                        b
                    })
                    .collect()
            };
            let mut out = Vec::new();
            for (i, p) in participants.iter().enumerate() {
                st.get_at::<Participant>(p, || format!("participant_ids[{i}]"))?;
                out.push(Calendar {
                    participant_id: p.clone(),
                    venue_id: String::new(),
                    busy: busy(Axis::Participant(p)),
                });
            }
            for (i, v) in venues.iter().enumerate() {
                st.get_at::<Venue>(v, || format!("venue_ids[{i}]"))?;
                out.push(Calendar {
                    participant_id: String::new(),
                    venue_id: v.clone(),
                    busy: busy(Axis::Venue(v)),
                });
            }
            Ok(out)
        })
    }
}

/// Most participants and venues one free/busy query names, together.
pub const MAX_FREE_BUSY_IDS: usize = 100;
/// Longest free/busy window: a year and a month, like an export's.
pub const MAX_FREE_BUSY_WINDOW_SECS: i64 = 400 * 86_400;

/// A free/busy query's cost is its ids times the events in its window: both are bounded,
/// and an id named twice (which would only repeat work) is refused rather than merged, so
/// the answer has one calendar per id asked for.
fn free_busy_bounds(participants: &[String], venues: &[String], window: (i64, i64)) -> Result<()> {
    let total = participants.len() + venues.len();
    if total > MAX_FREE_BUSY_IDS {
        return Err(Error::invalid(
            if participants.len() > MAX_FREE_BUSY_IDS {
                "participant_ids"
            } else {
                "venue_ids"
            },
            format!(
                "names {total} participants and venues; one query takes at most \
                 {MAX_FREE_BUSY_IDS}"
            ),
        ));
    }
    if window.1 - window.0 > MAX_FREE_BUSY_WINDOW_SECS {
        return Err(Error::invalid("window", "is longer than 400 days"));
    }
    for (field, ids) in [("participant_ids", participants), ("venue_ids", venues)] {
        let mut seen = std::collections::HashMap::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if let Some(first) = seen.insert(id.as_str(), i) {
                return Err(Error::invalid(
                    format!("{field}[{i}]"),
                    format!("repeats {field}[{first}]: name each one once"),
                ));
            }
        }
    }
    Ok(())
}

/// Takes up to `size` events and a token for the rest.
fn paginate<'a>(
    mut iter: impl Iterator<Item = &'a Arc<Event>>,
    page: &PageRequest,
) -> (Vec<Arc<Event>>, String) {
    let events: Vec<Arc<Event>> = iter.by_ref().take(page.size).cloned().collect();
    let token = match (iter.next(), events.last()) {
        (Some(_), Some(last)) => page.token(&format!("{}|{}", last.start.utc, last.id)),
        _ => String::new(),
    };
    (events, token)
}

fn decode_cursor(raw: &str) -> Result<Cursor> {
    let bad = || Error::invalid("page_token", "is not a token this server issued");
    let (start, id) = raw.split_once('|').ok_or_else(bad)?;
    Ok((start.parse().map_err(|_| bad())?, id.to_string()))
}

impl Scheduler {
    /// A sentence about a conflict, with times in `zone`. The conflict is one the scheduler
    /// returned, already redacted for its reader: this only looks up directory names.
    pub fn describe_conflict(&self, c: &Conflict, zone: Tz) -> String {
        conflicts::describe(&self.read_state(), c, zone)
    }

    /// The city of a venue ("" if unknown).
    pub fn venue_city(&self, venue_id: &str) -> String {
        self.read_state()
            .venues
            .get(venue_id)
            .map(|v| v.city.clone())
            .unwrap_or_default()
    }
}
