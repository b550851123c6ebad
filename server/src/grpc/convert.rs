//! Conversions between `entente.v1` messages and domain types. Only the gRPC layer sees
//! proto types; the scheduler never does.

use entente_proto::v1 as pb;
use prost_types::Timestamp;

use crate::conflicts::{self, Conflict, ConflictKind, Severity, TravelSkip};
use crate::directory::{self as dir, FieldMask, LatLng, Role};
use crate::error::{Error, Result};
use crate::events::{
    self as ev, Attendance, Event, EventKind, EventStatus, Str, Timing, TimingInput, Visibility,
};
use crate::scheduler::Meta;
use crate::time::{Disambiguation, OffsetPolicy, Zoned};
use crate::validate;
use chrono_tz::Tz;

/// Microseconds since the epoch as a protobuf timestamp.
pub fn timestamp(micros: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    })
}

/// Seconds since the epoch as a protobuf timestamp.
pub fn timestamp_secs(secs: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: secs,
        nanos: 0,
    })
}

/// A required message field.
pub fn required<T>(field: &str, v: Option<T>) -> Result<T> {
    v.ok_or_else(|| Error::invalid(field, "is required"))
}

/// A list request: its page fields, and the fields that only change how results are shown.
pub trait Paged: prost::Message + Clone {
    /// The list's name, so that one list's token is never another's.
    const LIST: &'static str;
    /// Takes the page size and token out, and clears what only changes the rendering, so
    /// what is left is the query itself.
    fn split_page(&mut self) -> (i32, String);
}

macro_rules! paged {
    ($($t:ident $(, $shown:ident)*;)*) => {
        $(impl Paged for pb::$t {
            const LIST: &'static str = stringify!($t);
            fn split_page(&mut self) -> (i32, String) {
                $(self.$shown.clear();)*
                (std::mem::take(&mut self.page_size), std::mem::take(&mut self.page_token))
            }
        })*
    };
}

paged! {
    ListCountriesRequest;
    ListParticipantsRequest;
    ListVenuesRequest;
    ListForumsRequest;
    ListEventsRequest, view_zone;
    GetAgendaRequest, view_zone;
    ListEventHistoryRequest;
    ListProposalsRequest;
    ListProposalHistoryRequest;
    ListAuditRecordsRequest;
    ListChangesRequest, view_zone;
    ListWorkCalendarsRequest;
}

/// The page a list request asks for, its token bound to the request's filters (AIP-158).
pub fn page<M: Paged>(req: &M) -> Result<validate::PageRequest> {
    use sha2::{Digest, Sha256};
    let mut query = req.clone();
    let (size, token) = query.split_page();
    let mut h = Sha256::new();
    h.update(M::LIST.as_bytes());
    h.update(query.encode_to_vec());
    let d = h.finalize();
    let digest = u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
    validate::PageRequest::new(size, &token, digest)
}

/// A field mask against the updatable paths.
pub fn mask(m: Option<prost_types::FieldMask>, allowed: &[&str]) -> Result<FieldMask> {
    FieldMask::new(&m.map(|m| m.paths).unwrap_or_default(), allowed)
}

/// A proto enum value that must be known.
pub fn known_enum<E: TryFrom<i32>>(field: &str, v: i32) -> Result<E> {
    E::try_from(v).map_err(|_| Error::invalid(field, format!("{v} is not a known value")))
}

fn stamps(meta: &Meta) -> (String, Option<Timestamp>, Option<Timestamp>) {
    (
        meta.etag(),
        timestamp(meta.create_time),
        timestamp(meta.update_time),
    )
}

/// Country out.
pub fn country(c: &dir::Country) -> pb::Country {
    let (etag, create_time, update_time) = stamps(&c.meta);
    pb::Country {
        code: c.code.clone(),
        display_name: c.display_name.clone(),
        etag,
        create_time,
        update_time,
    }
}

/// Country in.
pub fn country_input(c: pb::Country) -> dir::CountryInput {
    dir::CountryInput {
        code: c.code,
        display_name: c.display_name,
        request_id: String::new(),
    }
}

fn role_out(r: Role) -> pb::ParticipantRole {
    match r {
        Role::Unspecified => pb::ParticipantRole::Unspecified,
        Role::HeadOfState => pb::ParticipantRole::HeadOfState,
        Role::HeadOfGovernment => pb::ParticipantRole::HeadOfGovernment,
        Role::Minister => pb::ParticipantRole::Minister,
        Role::Delegation => pb::ParticipantRole::Delegation,
        Role::Official => pb::ParticipantRole::Official,
    }
}

fn role_in(v: i32) -> Result<Role> {
    Ok(
        match known_enum::<pb::ParticipantRole>("participant.role", v)? {
            pb::ParticipantRole::Unspecified => Role::Unspecified,
            pb::ParticipantRole::HeadOfState => Role::HeadOfState,
            pb::ParticipantRole::HeadOfGovernment => Role::HeadOfGovernment,
            pb::ParticipantRole::Minister => Role::Minister,
            pb::ParticipantRole::Delegation => Role::Delegation,
            pb::ParticipantRole::Official => Role::Official,
        },
    )
}

/// Participant out.
pub fn participant(p: &dir::Participant) -> pb::Participant {
    let (etag, create_time, update_time) = stamps(&p.meta);
    pb::Participant {
        id: p.id.clone(),
        display_name: p.display_name.clone(),
        role: role_out(p.role) as i32,
        title: p.title.clone(),
        country_code: p.country_code.clone(),
        home_time_zone: p.home_zone.name().to_string(),
        etag,
        create_time,
        update_time,
    }
}

/// Participant in.
pub fn participant_input(p: pb::Participant) -> Result<dir::ParticipantInput> {
    Ok(dir::ParticipantInput {
        id: p.id,
        display_name: p.display_name,
        role: role_in(p.role)?,
        title: p.title,
        country_code: p.country_code,
        home_time_zone: p.home_time_zone,
        request_id: String::new(),
    })
}

/// Venue out.
pub fn venue(v: &dir::Venue) -> pb::Venue {
    let (etag, create_time, update_time) = stamps(&v.meta);
    pb::Venue {
        id: v.id.clone(),
        display_name: v.display_name.clone(),
        city: v.city.clone(),
        country_code: v.country_code.clone(),
        time_zone: v.zone.name().to_string(),
        location: v.location.map(|l| pb::LatLng {
            latitude: l.latitude,
            longitude: l.longitude,
        }),
        etag,
        create_time,
        update_time,
    }
}

/// Venue in.
pub fn venue_input(v: pb::Venue) -> dir::VenueInput {
    dir::VenueInput {
        id: v.id,
        display_name: v.display_name,
        city: v.city,
        country_code: v.country_code,
        time_zone: v.time_zone,
        location: v.location.map(|l| LatLng {
            latitude: l.latitude,
            longitude: l.longitude,
        }),
        request_id: String::new(),
    }
}

/// Forum out.
pub fn forum(f: &dir::Forum) -> pb::Forum {
    let (etag, create_time, update_time) = stamps(&f.meta);
    pb::Forum {
        id: f.id.clone(),
        display_name: f.display_name.clone(),
        description: f.description.clone(),
        member_country_codes: f.members.clone(),
        etag,
        create_time,
        update_time,
    }
}

/// Forum in.
pub fn forum_input(f: pb::Forum) -> dir::ForumInput {
    dir::ForumInput {
        id: f.id,
        display_name: f.display_name,
        description: f.description,
        member_country_codes: f.member_country_codes,
        request_id: String::new(),
    }
}

// ---- time ----

/// A zoned time out.
pub fn zoned(z: &Zoned) -> pb::ZonedTime {
    let r = z.rendered();
    pb::ZonedTime {
        local_time: r.local,
        time_zone: z.zone.name().to_string(),
        utc_offset: r.offset,
        utc_time: timestamp_secs(z.utc),
        rfc9557: r.rfc9557,
        abbreviation: z.abbreviation(),
    }
}

/// An optional viewer zone.
pub fn view_zone(field: &str, v: &str) -> Result<Option<Tz>> {
    validate::optional_zone(field, v)
}

/// Disambiguation in.
pub fn disambiguation(v: i32) -> Result<Disambiguation> {
    Ok(
        match known_enum::<pb::Disambiguation>("disambiguation", v)? {
            pb::Disambiguation::Unspecified | pb::Disambiguation::Reject => Disambiguation::Reject,
            pb::Disambiguation::Compatible => Disambiguation::Compatible,
            pb::Disambiguation::Earlier => Disambiguation::Earlier,
            pb::Disambiguation::Later => Disambiguation::Later,
        },
    )
}

/// Offset policy in.
pub fn offset_policy(v: i32) -> Result<OffsetPolicy> {
    Ok(match known_enum::<pb::OffsetPolicy>("offset_policy", v)? {
        pb::OffsetPolicy::Unspecified | pb::OffsetPolicy::Reject => OffsetPolicy::Reject,
        pb::OffsetPolicy::Use => OffsetPolicy::Use,
        pb::OffsetPolicy::Prefer => OffsetPolicy::Prefer,
        pb::OffsetPolicy::Ignore => OffsetPolicy::Ignore,
    })
}

/// A query window in.
pub fn window(w: Option<pb::TimeWindow>, field: &str) -> Result<Option<(i64, i64)>> {
    w.map(|w| crate::service::events::parse_window(&w.start, &w.end, &w.time_zone, field))
        .transpose()
}

// ---- events ----

/// Event kind in (`None` for UNSPECIFIED).
pub fn event_kind(v: i32, field: &str) -> Result<Option<EventKind>> {
    Ok(match known_enum::<pb::EventKind>(field, v)? {
        pb::EventKind::Unspecified => None,
        pb::EventKind::Summit => Some(EventKind::Summit),
        pb::EventKind::Conference => Some(EventKind::Conference),
        pb::EventKind::BilateralMeeting => Some(EventKind::BilateralMeeting),
        pb::EventKind::OfficialVisit => Some(EventKind::OfficialVisit),
        pb::EventKind::StateVisit => Some(EventKind::StateVisit),
        pb::EventKind::SigningCeremony => Some(EventKind::SigningCeremony),
        pb::EventKind::Other => Some(EventKind::Other),
    })
}

fn event_kind_out(k: EventKind) -> pb::EventKind {
    match k {
        EventKind::Summit => pb::EventKind::Summit,
        EventKind::Conference => pb::EventKind::Conference,
        EventKind::BilateralMeeting => pb::EventKind::BilateralMeeting,
        EventKind::OfficialVisit => pb::EventKind::OfficialVisit,
        EventKind::StateVisit => pb::EventKind::StateVisit,
        EventKind::SigningCeremony => pb::EventKind::SigningCeremony,
        EventKind::Other => pb::EventKind::Other,
    }
}

/// Event status in (`None` for UNSPECIFIED).
pub fn event_status(v: i32, field: &str) -> Result<Option<EventStatus>> {
    Ok(match known_enum::<pb::EventStatus>(field, v)? {
        pb::EventStatus::Unspecified => None,
        pb::EventStatus::Tentative => Some(EventStatus::Tentative),
        pb::EventStatus::Confirmed => Some(EventStatus::Confirmed),
        pb::EventStatus::Cancelled => Some(EventStatus::Cancelled),
    })
}

fn event_status_out(s: EventStatus) -> pb::EventStatus {
    match s {
        EventStatus::Tentative => pb::EventStatus::Tentative,
        EventStatus::Confirmed => pb::EventStatus::Confirmed,
        EventStatus::Cancelled => pb::EventStatus::Cancelled,
    }
}

/// Attendance in (`None` for UNSPECIFIED).
pub fn attendance_in(v: i32, field: &str) -> Result<Option<Attendance>> {
    Ok(match known_enum::<pb::Attendance>(field, v)? {
        pb::Attendance::Unspecified => None,
        pb::Attendance::Requested => Some(Attendance::Requested),
        pb::Attendance::Confirmed => Some(Attendance::Confirmed),
        pb::Attendance::Declined => Some(Attendance::Declined),
    })
}

/// Attendance out.
pub fn attendance_out(a: Attendance) -> pb::Attendance {
    match a {
        Attendance::Requested => pb::Attendance::Requested,
        Attendance::Confirmed => pb::Attendance::Confirmed,
        Attendance::Declined => pb::Attendance::Declined,
    }
}

/// Visibility in (`None` for UNSPECIFIED).
pub fn visibility(v: i32, field: &str) -> Result<Option<Visibility>> {
    Ok(match known_enum::<pb::Visibility>(field, v)? {
        pb::Visibility::Unspecified => None,
        pb::Visibility::Public => Some(Visibility::Public),
        pb::Visibility::Parties => Some(Visibility::Parties),
        pb::Visibility::Private => Some(Visibility::Private),
    })
}

/// Visibility out.
pub fn visibility_out(v: Visibility) -> pb::Visibility {
    match v {
        Visibility::Public => pb::Visibility::Public,
        Visibility::Parties => pb::Visibility::Parties,
        Visibility::Private => pb::Visibility::Private,
    }
}

/// Timing in.
pub fn timing_input(t: pb::EventTiming) -> Option<TimingInput> {
    match t.span? {
        pb::event_timing::Span::Timed(t) => Some(TimingInput::Timed {
            start: t.start,
            end: t.end,
            time_zone: t.time_zone,
        }),
        pb::event_timing::Span::AllDay(d) => Some(TimingInput::AllDay {
            start_date: d.start_date,
            end_date: d.end_date,
            time_zone: d.time_zone,
        }),
    }
}

fn timing_out(e: &Event) -> pb::EventTiming {
    let span = match &e.timing {
        Timing::Timed => pb::event_timing::Span::Timed(pb::TimedSpan {
            start: e.start.local_string(),
            end: e.end.local_string(),
            time_zone: e.zone().name().to_string(),
        }),
        Timing::AllDay { first, last } => pb::event_timing::Span::AllDay(pb::DateSpan {
            start_date: first.to_string(),
            end_date: last.to_string(),
            time_zone: e.zone().name().to_string(),
        }),
    };
    pb::EventTiming { span: Some(span) }
}

/// Event in.
///
/// Takes the request's box: the fields move out of it one by one, so the ~1 KB message is
/// never copied whole.
pub fn event_input(e: Box<pb::Event>) -> Result<ev::EventInput> {
    Ok(ev::EventInput {
        id: e.id,
        kind: event_kind(e.kind, "event.kind")?,
        title: e.title,
        description: e.description,
        venue_id: e.venue_id,
        host_country_code: e.host_country_code,
        forum_id: e.forum_id,
        participant_ids: e.participant_ids,
        status: event_status(e.status, "event.status")?,
        parent_event_id: e.parent_event_id,
        timing: e.timing.and_then(timing_input),
        visibility: visibility(e.visibility, "event.visibility")?,
    })
}

/// Event out: at its own zone, and in `view` when asked. `city` is the venue's city.
pub fn event(
    e: &Event,
    view: Option<Tz>,
    city: &str,
    describe: &dyn Fn(&Conflict, Tz) -> String,
) -> pb::Event {
    let (etag, create_time, update_time) = stamps(&e.meta);
    pb::Event {
        id: e.id.to_string(),
        kind: event_kind_out(e.kind) as i32,
        title: e.title.to_string(),
        description: e.description.clone(),
        venue_id: e.venue_id.to_string(),
        host_country_code: e.host_country.to_string(),
        forum_id: e.forum_id.as_deref().unwrap_or_default().to_string(),
        participant_ids: e.participants.iter().map(Str::to_string).collect(),
        status: event_status_out(e.status) as i32,
        parent_event_id: e.parent_id.as_deref().unwrap_or_default().to_string(),
        timing: Some(timing_out(e)),
        start: Some(zoned(&e.start)),
        end: Some(zoned(&e.end)),
        all_day: matches!(e.timing, Timing::AllDay { .. }),
        view_start: view.map(|z| zoned(&e.start.in_zone(z))),
        view_end: view.map(|z| zoned(&e.end.in_zone(z))),
        tzdb_version: e.tzdb_version.to_string(),
        duration: Some(prost_types::Duration {
            seconds: e.end.utc - e.start.utc,
            nanos: 0,
        }),
        conflict_overrides: e
            .overrides
            .iter()
            .map(|o| pb::ConflictOverride {
                time: timestamp(o.time),
                actor: o.actor.clone(),
                conflicts: o
                    .conflicts
                    .iter()
                    .map(|c| conflict(c, view.unwrap_or(e.zone()), describe))
                    .collect(),
            })
            .collect(),
        visibility: visibility_out(e.visibility) as i32,
        owner_office: e.owner_office.to_string(),
        cancellation_reason: e.cancellation_reason.clone(),
        city: city.to_string(),
        etag,
        create_time,
        update_time,
        attendance: e
            .participants
            .iter()
            .map(|p| pb::Attendee {
                participant_id: p.to_string(),
                attendance: e
                    .attendance_of(p)
                    .map_or(pb::Attendance::Unspecified, attendance_out)
                    as i32,
            })
            .collect(),
    }
}

/// Conflict out, with times and description in `zone`.
pub fn conflict(
    c: &Conflict,
    zone: Tz,
    describe: &dyn Fn(&Conflict, Tz) -> String,
) -> pb::Conflict {
    let at = |t: i64| Zoned::from_instant(t, zone).ok().map(|z| zoned(&z));
    pb::Conflict {
        overlap_start: at(c.start),
        overlap_end: at(c.end),
        description: describe(c, zone),
        ..conflict_basic(c)
    }
}

/// Conflict out for `CHECK_VIEW_BASIC`: the fields a program reads, with the overlap as
/// bare instants (`utc_time` only) and no sentence. Small on purpose: a reply that fits
/// one HTTP/2 write costs both ends a system call and a wake-up less.
pub fn conflict_basic(c: &Conflict) -> pb::Conflict {
    let instant = |t: i64| {
        Some(pb::ZonedTime {
            utc_time: timestamp_secs(t),
            ..Default::default()
        })
    };
    let secs = |s: i64| {
        Some(prost_types::Duration {
            seconds: s,
            nanos: 0,
        })
    };
    pb::Conflict {
        kind: match c.kind {
            ConflictKind::Participant => pb::ConflictKind::Participant,
            ConflictKind::Venue => pb::ConflictKind::Venue,
            ConflictKind::Travel => pb::ConflictKind::Travel,
        } as i32,
        severity: match c.severity {
            Severity::Hard => pb::ConflictSeverity::Hard,
            Severity::Soft => pb::ConflictSeverity::Soft,
        } as i32,
        other_event_id: c.other_event.to_string(),
        other_event_title: c.other_title.to_string(),
        participant_id: c.participant.as_deref().unwrap_or_default().to_string(),
        venue_id: c.venue.as_deref().unwrap_or_default().to_string(),
        overlap_start: instant(c.start),
        overlap_end: instant(c.end),
        distance_km: c.travel.as_ref().map_or(0.0, |t| t.distance_km),
        // A travel conflict next to an event the reader may not see carries no figures
        // (they would say where it is); the gap itself is what it may know.
        time_available: match (&c.travel, c.kind) {
            (Some(t), _) => secs(t.available_secs),
            (None, ConflictKind::Travel) => secs(c.end - c.start),
            (None, _) => None,
        },
        time_required: c.travel.as_ref().and_then(|t| secs(t.required_secs)),
        description: String::new(),
    }
}

/// Skipped travel check out; the `reason` sentence only when `described`.
pub fn travel_skip(s: &TravelSkip, described: bool) -> pb::TravelCheckSkipped {
    pb::TravelCheckSkipped {
        participant_id: s.participant.to_string(),
        other_event_id: s.other_event.to_string(),
        venue_id: s.venue.to_string(),
        reason: if described { s.reason() } else { String::new() },
    }
}

/// Writes a conflict's sentence for a reader in a zone.
pub type Describe<'a> = &'a dyn Fn(&Conflict, Tz) -> String;

/// A conflict report out: in full (times in `zone`, with sentences) when `describe` is
/// given, else the `CHECK_VIEW_BASIC` fields.
pub fn report(
    r: &conflicts::Report,
    zone: Tz,
    describe: Option<Describe<'_>>,
) -> (Vec<pb::Conflict>, Vec<pb::TravelCheckSkipped>) {
    let conflicts = match describe {
        Some(d) => r.conflicts.iter().map(|c| conflict(c, zone, d)).collect(),
        None => r.conflicts.iter().map(conflict_basic).collect(),
    };
    let skipped = r.skipped.iter();
    (
        conflicts,
        skipped
            .map(|s| travel_skip(s, describe.is_some()))
            .collect(),
    )
}
