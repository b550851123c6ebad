//! `entente event ...` and `entente conflicts ...`.

use clap::{Args, Subcommand, ValueEnum};
use entente_client::proto as pb;
use entente_client::{Client, timearg};
use prost_types::FieldMask;

use super::output::{enum_name, span, when};
use super::{Failure, Out, Res, every_page, usage};

/// Event kinds.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// A summit.
    Summit,
    /// A conference.
    Conference,
    /// Talks between two parties.
    BilateralMeeting,
    /// An official visit.
    OfficialVisit,
    /// A state visit.
    StateVisit,
    /// A signing ceremony.
    SigningCeremony,
    /// Anything else.
    Other,
}

impl Kind {
    fn proto(self) -> pb::EventKind {
        match self {
            Kind::Summit => pb::EventKind::Summit,
            Kind::Conference => pb::EventKind::Conference,
            Kind::BilateralMeeting => pb::EventKind::BilateralMeeting,
            Kind::OfficialVisit => pb::EventKind::OfficialVisit,
            Kind::StateVisit => pb::EventKind::StateVisit,
            Kind::SigningCeremony => pb::EventKind::SigningCeremony,
            Kind::Other => pb::EventKind::Other,
        }
    }
}

/// Event statuses.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Status {
    /// Pencilled in.
    Tentative,
    /// Fixed.
    Confirmed,
    /// Called off.
    Cancelled,
}

impl Status {
    fn proto(self) -> pb::EventStatus {
        match self {
            Status::Tentative => pb::EventStatus::Tentative,
            Status::Confirmed => pb::EventStatus::Confirmed,
            Status::Cancelled => pb::EventStatus::Cancelled,
        }
    }
}

/// DST resolution (TC39 Temporal semantics).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Disambiguation {
    /// Gap: later; fold: earlier.
    Compatible,
    /// Earlier.
    Earlier,
    /// Later.
    Later,
    /// Refuse gaps and folds (the default).
    Reject,
}

impl Disambiguation {
    fn proto(self) -> pb::Disambiguation {
        match self {
            Disambiguation::Compatible => pb::Disambiguation::Compatible,
            Disambiguation::Earlier => pb::Disambiguation::Earlier,
            Disambiguation::Later => pb::Disambiguation::Later,
            Disambiguation::Reject => pb::Disambiguation::Reject,
        }
    }
}

/// The fields of an event on the command line.
#[derive(Debug, Args)]
pub struct EventArgs {
    /// Kind.
    #[arg(long, value_enum)]
    kind: Option<Kind>,
    /// Title.
    #[arg(long)]
    title: Option<String>,
    /// Free text.
    #[arg(long)]
    description: Option<String>,
    /// Venue id (default for sidelines events: the parent's).
    #[arg(long)]
    venue: Option<String>,
    /// Start: 2024-10-11T11:00 (venue time), 2024-10-22T10:00[Europe/Moscow], or an RFC 3339 instant.
    #[arg(long)]
    start: Option<String>,
    /// End, in the same forms as --start.
    #[arg(long)]
    end: Option<String>,
    /// Whole days instead of --start/--end: 2024-10-22..2024-10-24 (inclusive) or one date.
    #[arg(long)]
    dates: Option<String>,
    /// IANA zone of --start/--end/--dates (default: the venue's).
    #[arg(long)]
    zone: Option<String>,
    /// A participant id (repeat).
    #[arg(long = "participant")]
    participants: Vec<String>,
    /// The event this one is on the sidelines of.
    #[arg(long)]
    sidelines: Option<String>,
    /// Forum id.
    #[arg(long)]
    forum: Option<String>,
    /// Host country code (default: the venue's).
    #[arg(long)]
    host: Option<String>,
    /// Status (default on create: confirmed).
    #[arg(long, value_enum)]
    status: Option<Status>,
}

impl EventArgs {
    fn event(&self, id: String) -> Result<pb::Event, Failure> {
        let timing = timearg::timing(
            self.start.as_deref(),
            self.end.as_deref(),
            self.dates.as_deref(),
            self.zone.as_deref(),
        )
        .map_err(usage)?;
        Ok(pb::Event {
            id,
            kind: self.kind.map_or(pb::EventKind::Unspecified, Kind::proto) as i32,
            title: self.title.clone().unwrap_or_default(),
            description: self.description.clone().unwrap_or_default(),
            venue_id: self.venue.clone().unwrap_or_default(),
            host_country_code: self.host.clone().unwrap_or_default(),
            forum_id: self.forum.clone().unwrap_or_default(),
            participant_ids: self.participants.clone(),
            status: self
                .status
                .map_or(pb::EventStatus::Unspecified, Status::proto) as i32,
            parent_event_id: self.sidelines.clone().unwrap_or_default(),
            timing,
            ..Default::default()
        })
    }

    /// The update mask of the flags given.
    fn mask(&self) -> FieldMask {
        let set = [
            ("kind", self.kind.is_some()),
            ("title", self.title.is_some()),
            ("description", self.description.is_some()),
            ("venue_id", self.venue.is_some()),
            ("host_country_code", self.host.is_some()),
            ("forum_id", self.forum.is_some()),
            ("participant_ids", !self.participants.is_empty()),
            ("status", self.status.is_some()),
            ("parent_event_id", self.sidelines.is_some()),
            ("timing", self.start.is_some() || self.dates.is_some()),
        ];
        FieldMask {
            paths: set
                .iter()
                .filter(|(_, s)| *s)
                .map(|(p, _)| p.to_string())
                .collect(),
        }
    }
}

/// How writes treat times and conflicts.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// How to resolve a wall time in a DST gap or fold.
    #[arg(long, value_enum)]
    disambiguation: Option<Disambiguation>,
    /// Write despite hard conflicts (recorded on the event).
    #[arg(long)]
    allow_conflicts: bool,
    /// Who is writing, for the history.
    #[arg(long)]
    actor: Option<String>,
}

/// Event commands.
#[derive(Debug, Subcommand)]
pub enum EventCmd {
    /// Schedule an event.
    Create(Box<CreateArgs>),
    /// Show one event.
    Get {
        /// Event id.
        id: String,
    },
    /// List events overlapping a window.
    List(ListArgs),
    /// Change the fields given.
    Update {
        /// Event id.
        id: String,
        #[command(flatten)]
        fields: EventArgs,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Cancel an event (it stays readable).
    Cancel {
        /// Event id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// Also cancel everything on its sidelines.
        #[arg(long)]
        cascade: bool,
    },
    /// A summit's programme: the event and its sidelines, in order.
    Programme {
        /// Event id.
        id: String,
    },
    /// A participant's agenda over a window, in their home zone (or --tz).
    Agenda {
        /// Participant id.
        participant: String,
        /// Window start, or a date range such as 2024-10-01..2024-10-31.
        #[arg(long)]
        from: String,
        /// Window end.
        #[arg(long)]
        to: Option<String>,
        /// Zone of --from/--to when they are local (default UTC).
        #[arg(long)]
        zone: Option<String>,
        /// Also list events their office declined.
        #[arg(long)]
        include_declined: bool,
    },
    /// Every change made to an event.
    History {
        /// Event id.
        id: String,
    },
    /// Answer for a participant your office speaks for: confirm or decline their
    /// attendance at an event that names them.
    Respond {
        /// Event id.
        id: String,
        /// The participant answering.
        #[arg(long)]
        participant: String,
        /// Confirm their attendance.
        #[arg(long, conflicts_with = "decline", required_unless_present = "decline")]
        confirm: bool,
        /// Decline it.
        #[arg(long)]
        decline: bool,
        /// A note for the history.
        #[arg(long)]
        note: Option<String>,
        /// Confirm despite hard conflicts on their calendar (recorded on the event).
        #[arg(long)]
        allow_conflicts: bool,
        /// Who is answering, for the history.
        #[arg(long)]
        actor: Option<String>,
    },
    /// Recompute instants from wall times after a tzdb change.
    Recompute {
        /// Only report.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `event create` arguments.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Readable id (default: generated).
    #[arg(long)]
    id: Option<String>,
    /// Write only if nothing has been written since this revision (as `find-time` or a
    /// list reported it); refused (ABORTED) otherwise.
    #[arg(long, value_name = "REVISION")]
    expected_revision: Option<i64>,
    #[command(flatten)]
    fields: EventArgs,
    #[command(flatten)]
    write: WriteArgs,
}

/// `event list` arguments.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Window start, or a date range such as 2024-10-01..2024-10-31.
    #[arg(long)]
    from: Option<String>,
    /// Window end.
    #[arg(long)]
    to: Option<String>,
    /// Zone of --from/--to when they are local (default UTC).
    #[arg(long)]
    zone: Option<String>,
    /// Only this participant's.
    #[arg(long)]
    participant: Option<String>,
    /// Only at this venue.
    #[arg(long)]
    venue: Option<String>,
    /// Only hosted by this country.
    #[arg(long)]
    country: Option<String>,
    /// Only this forum's.
    #[arg(long)]
    forum: Option<String>,
    /// Only this kind.
    #[arg(long, value_enum)]
    kind: Option<Kind>,
    /// Only this status (cancelled events only appear when asked for).
    #[arg(long, value_enum)]
    status: Option<Status>,
}

/// Conflict commands.
#[derive(Debug, Subcommand)]
pub enum ConflictCmd {
    /// Every conflict a proposed event (or an edit of --event) would have; writes nothing.
    Check {
        /// Check an edit of this stored event (only the flags given change).
        #[arg(long)]
        event: Option<String>,
        #[command(flatten)]
        fields: EventArgs,
        /// How to resolve a wall time in a DST gap or fold.
        #[arg(long, value_enum)]
        disambiguation: Option<Disambiguation>,
    },
    /// Busy intervals of participants and venues over a window.
    Freebusy {
        /// A participant id (repeat).
        #[arg(long = "participant")]
        participants: Vec<String>,
        /// A venue id (repeat).
        #[arg(long = "venue")]
        venues: Vec<String>,
        /// Window start, or a date range.
        #[arg(long)]
        from: String,
        /// Window end.
        #[arg(long)]
        to: Option<String>,
        /// Zone of --from/--to when they are local (default UTC).
        #[arg(long)]
        zone: Option<String>,
        /// Leave tentative events out.
        #[arg(long)]
        exclude_tentative: bool,
    },
}

pub(super) fn disamb(d: Option<Disambiguation>) -> i32 {
    d.map_or(pb::Disambiguation::Unspecified, Disambiguation::proto) as i32
}

fn show_event(out: &Out, e: &pb::Event) -> Res {
    let mut pairs = vec![
        ("id", e.id.clone()),
        ("title", e.title.clone()),
        ("kind", enum_name(e.kind().as_str_name(), "EVENT_KIND_")),
        (
            "status",
            enum_name(e.status().as_str_name(), "EVENT_STATUS_"),
        ),
        (
            "venue",
            format!("{} ({}, {})", e.venue_id, e.city, e.host_country_code),
        ),
        ("starts", when(&e.start)),
        ("ends", when(&e.end)),
    ];
    if e.view_start.is_some() {
        pairs.push(("starts (view)", when(&e.view_start)));
        pairs.push(("ends (view)", when(&e.view_end)));
    }
    pairs.extend([
        (
            "all day",
            if e.all_day {
                "yes".to_string()
            } else {
                String::new()
            },
        ),
        ("participants", attendees(e)),
        ("sidelines of", e.parent_event_id.clone()),
        ("forum", e.forum_id.clone()),
        ("cancelled", e.cancellation_reason.clone()),
        (
            "overrides",
            if e.conflict_overrides.is_empty() {
                String::new()
            } else {
                e.conflict_overrides.len().to_string()
            },
        ),
        ("description", e.description.clone()),
    ]);
    Ok(out.fields(&pairs)?)
}

/// "putin (confirmed), pezeshkian (requested)".
fn attendees(e: &pb::Event) -> String {
    e.attendance
        .iter()
        .map(|a| {
            format!(
                "{} ({})",
                a.participant_id,
                enum_name(a.attendance().as_str_name(), "ATTENDANCE_")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One participant's attendance at `e`.
fn attendance_of(e: &pb::Event, participant: &str) -> String {
    e.attendance
        .iter()
        .find(|a| a.participant_id == participant)
        .map(|a| enum_name(a.attendance().as_str_name(), "ATTENDANCE_"))
        .unwrap_or_default()
}

fn event_rows(events: &[pb::Event]) -> Vec<Vec<String>> {
    events
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                e.title.clone(),
                span(&e.start, &e.end),
                if e.view_start.is_some() {
                    span(&e.view_start, &e.view_end)
                } else {
                    String::new()
                },
                format!("{} ({})", e.venue_id, e.city),
                enum_name(e.status().as_str_name(), "EVENT_STATUS_"),
            ]
        })
        .collect()
}

fn list_events(out: &Out, events: &[pb::Event]) -> Res {
    if out.json {
        return Ok(out.json_many(events, "entente.v1.Event")?);
    }
    let view = match &out.tz {
        Some(z) => format!("IN {z}"),
        None => "VIEW".to_string(),
    };
    Ok(out.table(
        &["ID", "TITLE", "AT THE VENUE", &view, "VENUE", "STATUS"],
        event_rows(events),
    )?)
}

/// Runs an event command.
pub async fn event(client: &Client, out: &Out, tz: &str, cmd: EventCmd) -> Res {
    let mut ev = client.events();
    match cmd {
        EventCmd::Create(args) => {
            let CreateArgs {
                id,
                expected_revision,
                fields,
                write,
            } = *args;
            let r = ev
                .create_event(pb::CreateEventRequest {
                    event: Some(Box::new(fields.event(String::new())?)),
                    event_id: id.unwrap_or_default(),
                    disambiguation: disamb(write.disambiguation),
                    allow_conflicts: write.allow_conflicts,
                    view_zone: tz.to_string(),
                    actor: write.actor.unwrap_or_default(),
                    expected_revision,
                    ..Default::default()
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.CreateEventResponse")?);
            }
            show_event(out, &r.event.unwrap_or_default())?;
            Ok(out.conflicts(&r.conflicts, &r.travel_checks_skipped)?)
        }
        EventCmd::Get { id } => {
            let e = ev
                .get_event(pb::GetEventRequest {
                    id,
                    view_zone: tz.to_string(),
                })
                .await?
                .into_inner();
            let e = e.event.unwrap_or_default();
            if out.json {
                return Ok(out.json_one(&e, "entente.v1.Event")?);
            }
            show_event(out, &e)
        }
        EventCmd::List(a) => {
            let window = timearg::window(a.from.as_deref(), a.to.as_deref(), a.zone.as_deref())
                .map_err(usage)?;
            let all = every_page(|page_token| {
                let mut c = ev.clone();
                let req = pb::ListEventsRequest {
                    window: window.clone(),
                    participant_id: a.participant.clone().unwrap_or_default(),
                    venue_id: a.venue.clone().unwrap_or_default(),
                    country_code: a.country.clone().unwrap_or_default(),
                    forum_id: a.forum.clone().unwrap_or_default(),
                    kind: a.kind.map_or(pb::EventKind::Unspecified, Kind::proto) as i32,
                    status: a.status.map_or(pb::EventStatus::Unspecified, Status::proto) as i32,
                    page_size: 1000,
                    page_token,
                    view_zone: tz.to_string(),
                };
                async move {
                    let page = c.list_events(req).await?.into_inner();
                    Ok((page.events, page.next_page_token))
                }
            })
            .await?;
            list_events(out, &all)
        }
        EventCmd::Update { id, fields, write } => {
            let mask = fields.mask();
            if mask.paths.is_empty() {
                return Err(usage("nothing to update: give the fields to change"));
            }
            let r = ev
                .update_event(pb::UpdateEventRequest {
                    event: Some(Box::new(fields.event(id)?)),
                    update_mask: Some(mask),
                    disambiguation: disamb(write.disambiguation),
                    allow_conflicts: write.allow_conflicts,
                    view_zone: tz.to_string(),
                    actor: write.actor.unwrap_or_default(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.UpdateEventResponse")?);
            }
            show_event(out, &r.event.unwrap_or_default())?;
            Ok(out.conflicts(&r.conflicts, &r.travel_checks_skipped)?)
        }
        EventCmd::Cancel {
            id,
            reason,
            cascade,
        } => {
            let r = ev
                .cancel_event(pb::CancelEventRequest {
                    id,
                    reason: reason.unwrap_or_default(),
                    cascade,
                    ..Default::default()
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.CancelEventResponse")?);
            }
            let e = r.event.unwrap_or_default();
            out.line(&format!("cancelled {} ({})", e.id, e.title))?;
            for c in r.cancelled_event_ids {
                out.line(&format!("cancelled {c} (on its sidelines)"))?;
            }
            Ok(())
        }
        EventCmd::Programme { id } => {
            let r = ev
                .get_programme(pb::GetProgrammeRequest {
                    event_id: id,
                    view_zone: tz.to_string(),
                    include_cancelled: false,
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.GetProgrammeResponse")?);
            }
            let mut all = vec![*r.event.unwrap_or_default()];
            all.extend(r.sidelines);
            list_events(out, &all)
        }
        EventCmd::Agenda {
            participant,
            from,
            to,
            zone,
            include_declined,
        } => {
            let window =
                timearg::window(Some(&from), to.as_deref(), zone.as_deref()).map_err(usage)?;
            let r = ev
                .get_agenda(pb::GetAgendaRequest {
                    participant_id: participant.clone(),
                    window,
                    view_zone: tz.to_string(),
                    page_size: 1000,
                    include_declined,
                    ..Default::default()
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.GetAgendaResponse")?);
            }
            let rows = r
                .events
                .iter()
                .map(|e| {
                    vec![
                        span(&e.view_start, &e.view_end),
                        e.title.clone(),
                        format!("{} ({})", e.city, e.host_country_code),
                        span(&e.start, &e.end),
                        enum_name(e.status().as_str_name(), "EVENT_STATUS_"),
                        attendance_of(e, &participant),
                    ]
                })
                .collect();
            let head = format!("IN {}", r.view_zone);
            Ok(out.table(
                &[
                    &head,
                    "EVENT",
                    "WHERE",
                    "LOCAL TIME THERE",
                    "STATUS",
                    "ATTENDANCE",
                ],
                rows,
            )?)
        }
        EventCmd::Respond {
            id,
            participant,
            confirm,
            decline: _,
            note,
            allow_conflicts,
            actor,
        } => {
            let answer = if confirm {
                pb::Attendance::Confirmed
            } else {
                pb::Attendance::Declined
            };
            let r = ev
                .set_attendance(pb::SetAttendanceRequest {
                    event_id: id,
                    participant_id: participant.clone(),
                    attendance: answer as i32,
                    allow_conflicts,
                    actor: actor.unwrap_or_default(),
                    note: note.unwrap_or_default(),
                    view_zone: tz.to_string(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.SetAttendanceResponse")?);
            }
            let e = r.event.unwrap_or_default();
            out.line(&format!(
                "{participant}: {} at {} ({})",
                attendance_of(&e, &participant),
                e.id,
                e.title
            ))?;
            Ok(out.conflicts(&r.conflicts, &[])?)
        }
        EventCmd::History { id } => {
            let r = ev
                .list_event_history(pb::ListEventHistoryRequest {
                    event_id: id,
                    page_size: 1000,
                    page_token: String::new(),
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_many(&r.revisions, "entente.v1.EventRevision")?);
            }
            let rows = r
                .revisions
                .iter()
                .map(|v| {
                    vec![
                        v.revision.to_string(),
                        v.time.map(|t| t.to_string()).unwrap_or_default(),
                        enum_name(v.action().as_str_name(), "EVENT_ACTION_"),
                        v.actor.clone(),
                        v.changed_fields.join(", "),
                        if v.overridden_conflicts.is_empty() {
                            v.note.clone()
                        } else {
                            format!(
                                "{} conflict(s) overridden {}",
                                v.overridden_conflicts.len(),
                                v.note
                            )
                        },
                    ]
                })
                .collect();
            Ok(out.table(
                &["REV", "TIME (UTC)", "ACTION", "BY", "CHANGED", "NOTE"],
                rows,
            )?)
        }
        EventCmd::Recompute { dry_run } => {
            let r = ev
                .recompute_instants(pb::RecomputeInstantsRequest { dry_run })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.RecomputeInstantsResponse")?);
            }
            out.line(&format!(
                "tzdb {}: {} event(s) examined, {} moved{}",
                r.tzdb_version,
                r.examined_count,
                r.moved_events.len(),
                if dry_run { " (dry run)" } else { "" }
            ))?;
            for m in r.moved_events {
                out.line(&format!("  {}: now {}", m.event_id, when(&m.start)))?;
            }
            Ok(())
        }
    }
}

/// Runs a conflicts command.
pub async fn conflicts(client: &Client, out: &Out, tz: &str, cmd: ConflictCmd) -> Res {
    let mut c = client.conflicts();
    match cmd {
        ConflictCmd::Check {
            event,
            fields,
            disambiguation,
        } => {
            let mask = event.as_ref().map(|_| fields.mask());
            let r = c
                .check_conflicts(pb::CheckConflictsRequest {
                    event: Some(Box::new(fields.event(event.unwrap_or_default())?)),
                    update_mask: mask,
                    disambiguation: disamb(disambiguation),
                    view_zone: tz.to_string(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.CheckConflictsResponse")?);
            }
            if r.conflicts.is_empty() {
                out.line("no conflicts")?;
            }
            Ok(out.conflicts(&r.conflicts, &r.travel_checks_skipped)?)
        }
        ConflictCmd::Freebusy {
            participants,
            venues,
            from,
            to,
            zone,
            exclude_tentative,
        } => {
            let window =
                timearg::window(Some(&from), to.as_deref(), zone.as_deref()).map_err(usage)?;
            let r = c
                .query_free_busy(pb::QueryFreeBusyRequest {
                    participant_ids: participants,
                    venue_ids: venues,
                    window,
                    view_zone: tz.to_string(),
                    exclude_tentative,
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.QueryFreeBusyResponse")?);
            }
            let mut rows = Vec::new();
            for cal in &r.calendars {
                let who = if cal.participant_id.is_empty() {
                    format!("venue {}", cal.venue_id)
                } else {
                    cal.participant_id.clone()
                };
                if cal.busy.is_empty() {
                    rows.push(vec![who.clone(), "free".into(), String::new()]);
                }
                for b in &cal.busy {
                    rows.push(vec![
                        who.clone(),
                        span(&b.start, &b.end),
                        b.event_ids.join(", "),
                    ]);
                }
            }
            Ok(out.table(&["WHO", "BUSY", "EVENTS"], rows)?)
        }
    }
}
