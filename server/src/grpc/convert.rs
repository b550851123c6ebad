//! Conversions between `entente.v1` messages and domain types. Only the gRPC layer sees
//! proto types; the scheduler never does.

use entente_proto::v1 as pb;
use prost_types::Timestamp;

use crate::directory::{self as dir, FieldMask, LatLng, Role};
use crate::error::{Error, Result};
use crate::scheduler::Meta;

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
    }
}
