//! The directory: countries, participants, venues and forums.
//!
//! Each kind has a stored record, an input (what a client sends, unvalidated), and one
//! `validated` function used by both create and update, so an update can never store what a
//! create would refuse. Countries are referenced by ISO code: a participant or venue may
//! name any assigned code, whether or not that country has been registered.

use std::collections::BTreeSet;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, Violations};
use crate::record::Meta;
use crate::validate;

/// A country, by ISO 3166-1 alpha-2 code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Country {
    /// "RU".
    pub code: String,
    /// "Russian Federation".
    pub display_name: String,
    /// Version and timestamps.
    pub meta: Meta,
}

/// A participant's rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Role {
    /// Not given.
    #[default]
    Unspecified,
    /// President, monarch.
    HeadOfState,
    /// Prime minister, chancellor.
    HeadOfGovernment,
    /// A member of a government.
    Minister,
    /// A delegation.
    Delegation,
    /// Another official.
    Official,
}

/// A head of state or government, minister or delegation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    /// Stable id.
    pub id: String,
    /// "Masoud Pezeshkian".
    pub display_name: String,
    /// Rank.
    pub role: Role,
    /// "President of the Islamic Republic of Iran".
    pub title: String,
    /// "IR".
    pub country_code: String,
    /// Zone of their home capital.
    #[serde(with = "crate::time::zone_name")]
    pub home_zone: Tz,
    /// Version and timestamps.
    pub meta: Meta,
}

/// A point on the globe, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLng {
    /// -90..=90.
    pub latitude: f64,
    /// -180..=180.
    pub longitude: f64,
}

/// A place where events are held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Venue {
    /// Stable id.
    pub id: String,
    /// "Kazan Expo".
    pub display_name: String,
    /// "Kazan".
    pub city: String,
    /// "RU".
    pub country_code: String,
    /// The default zone of events here.
    #[serde(with = "crate::time::zone_name")]
    pub zone: Tz,
    /// Optional coordinates, for travel checks.
    pub location: Option<LatLng>,
    /// Version and timestamps.
    pub meta: Meta,
}

/// A recurring body such as BRICS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forum {
    /// Stable id.
    pub id: String,
    /// "BRICS".
    pub display_name: String,
    /// Free text.
    pub description: String,
    /// Member countries, ISO codes, sorted, no duplicates.
    pub members: Vec<String>,
    /// Version and timestamps.
    pub meta: Meta,
}

// Each kind's name in messages (`Resource::KIND` reads these).
impl Country {
    /// "country".
    pub const KIND: &'static str = "country";
}
impl Participant {
    /// "participant".
    pub const KIND: &'static str = "participant";
}
impl Venue {
    /// "venue".
    pub const KIND: &'static str = "venue";
}
impl Forum {
    /// "forum".
    pub const KIND: &'static str = "forum";
}

/// What a client sends for a country.
#[derive(Debug, Clone, Default)]
pub struct CountryInput {
    /// ISO code.
    pub code: String,
    /// Defaults to the ISO name.
    pub display_name: String,
    /// AIP-155 idempotency key: a retry returns the first result (`Scheduler::write_once`).
    pub request_id: String,
}

/// What a client sends for a participant.
#[derive(Debug, Clone, Default)]
pub struct ParticipantInput {
    /// Optional readable id on create.
    pub id: String,
    /// Required.
    pub display_name: String,
    /// Rank.
    pub role: Role,
    /// Title.
    pub title: String,
    /// Required ISO code.
    pub country_code: String,
    /// Required IANA zone.
    pub home_time_zone: String,
    /// AIP-155 idempotency key: a retry returns the first result (`Scheduler::write_once`).
    pub request_id: String,
}

/// What a client sends for a venue.
#[derive(Debug, Clone, Default)]
pub struct VenueInput {
    /// Optional readable id on create.
    pub id: String,
    /// Required.
    pub display_name: String,
    /// Required.
    pub city: String,
    /// Required ISO code.
    pub country_code: String,
    /// Required IANA zone.
    pub time_zone: String,
    /// Optional.
    pub location: Option<LatLng>,
    /// AIP-155 idempotency key: a retry returns the first result (`Scheduler::write_once`).
    pub request_id: String,
}

/// What a client sends for a forum.
#[derive(Debug, Clone, Default)]
pub struct ForumInput {
    /// Optional readable id on create.
    pub id: String,
    /// Required.
    pub display_name: String,
    /// Free text.
    pub description: String,
    /// ISO codes.
    pub member_country_codes: Vec<String>,
    /// AIP-155 idempotency key: a retry returns the first result (`Scheduler::write_once`).
    pub request_id: String,
}

/// Which fields an update touches, as AIP-134 reads an `update_mask`.
#[derive(Debug, Clone)]
pub enum FieldMask {
    /// `"*"`: every updatable field, a full replacement (an empty value clears the field).
    All,
    /// The named paths.
    Paths(BTreeSet<String>),
    /// No mask: the fields the request sets (non-empty values), so that a client can send
    /// just what changes.
    Populated,
}

impl FieldMask {
    /// Every updatable field (a full replacement).
    pub fn all() -> FieldMask {
        FieldMask::All
    }

    /// `paths` read against the updatable ones: none means [`FieldMask::Populated`],
    /// `["*"]` means [`FieldMask::All`]; INVALID_ARGUMENT for a path not in `allowed`.
    pub fn new(paths: &[String], allowed: &[&str]) -> Result<FieldMask> {
        match paths {
            [] => return Ok(FieldMask::Populated),
            [star] if star == "*" => return Ok(FieldMask::All),
            _ => {}
        }
        let mut set = BTreeSet::new();
        for p in paths {
            if !allowed.contains(&p.as_str()) {
                return Err(Error::invalid(
                    "update_mask",
                    format!(
                        "{} cannot be updated; updatable fields are: {} (or \"*\" alone for all of them)",
                        validate::shown(p),
                        allowed.join(", ")
                    ),
                ));
            }
            set.insert(p.clone());
        }
        Ok(FieldMask::Paths(set))
    }

    /// Whether `path` is to be updated, given whether the request sets it.
    pub fn takes(&self, path: &str, set: bool) -> bool {
        match self {
            FieldMask::All => true,
            FieldMask::Paths(paths) => paths.contains(path),
            FieldMask::Populated => set,
        }
    }
}

/// Updatable participant fields.
pub const PARTICIPANT_FIELDS: &[&str] = &[
    "display_name",
    "role",
    "title",
    "country_code",
    "home_time_zone",
];
/// Updatable venue fields.
pub const VENUE_FIELDS: &[&str] = &[
    "display_name",
    "city",
    "country_code",
    "time_zone",
    "location",
];
/// Updatable forum fields.
pub const FORUM_FIELDS: &[&str] = &["display_name", "description", "member_country_codes"];
/// Updatable country fields.
pub const COUNTRY_FIELDS: &[&str] = &["display_name"];

pub fn validated_participant(
    input: &ParticipantInput,
    id: String,
    meta: Meta,
) -> Result<Participant> {
    let mut v = Violations::default();
    let display_name = v.check(validate::name(
        "participant.display_name",
        &input.display_name,
    ));
    let title = v.check(validate::bounded(
        "participant.title",
        &input.title,
        validate::MAX_NAME_CHARS,
    ));
    let country_code = v.check(validate::country_code(
        "participant.country_code",
        &input.country_code,
    ));
    let home_zone = v.check(validate::zone(
        "participant.home_time_zone",
        &input.home_time_zone,
    ));
    v.finish()?;
    let (Some(display_name), Some(title), Some(country_code), Some(home_zone)) =
        (display_name, title, country_code, home_zone)
    else {
        unreachable!("Violations::finish returned Ok with a missing field");
    };
    Ok(Participant {
        id,
        display_name,
        role: input.role,
        title: title.trim().to_string(),
        country_code,
        home_zone,
        meta,
    })
}

pub fn validated_venue(input: &VenueInput, id: String, meta: Meta) -> Result<Venue> {
    let mut v = Violations::default();
    let display_name = v.check(validate::name("venue.display_name", &input.display_name));
    let city = v.check(validate::name("venue.city", &input.city));
    let country_code = v.check(validate::country_code(
        "venue.country_code",
        &input.country_code,
    ));
    let zone = v.check(validate::zone("venue.time_zone", &input.time_zone));
    if let Some(loc) = input.location {
        if !(loc.latitude.is_finite() && (-90.0..=90.0).contains(&loc.latitude)) {
            v.add(
                "venue.location.latitude",
                format!(
                    "{} is not a latitude: it must be between -90 and 90",
                    loc.latitude
                ),
            );
        }
        if !(loc.longitude.is_finite() && (-180.0..=180.0).contains(&loc.longitude)) {
            v.add(
                "venue.location.longitude",
                format!(
                    "{} is not a longitude: it must be between -180 and 180",
                    loc.longitude
                ),
            );
        }
    }
    v.finish()?;
    let (Some(display_name), Some(city), Some(country_code), Some(zone)) =
        (display_name, city, country_code, zone)
    else {
        unreachable!("Violations::finish returned Ok with a missing field");
    };
    Ok(Venue {
        id,
        display_name,
        city,
        country_code,
        zone,
        location: input.location,
        meta,
    })
}

pub fn validated_forum(input: &ForumInput, id: String, meta: Meta) -> Result<Forum> {
    let mut v = Violations::default();
    let display_name = v.check(validate::name("forum.display_name", &input.display_name));
    let description = v.check(validate::text("forum.description", &input.description));
    let mut members = BTreeSet::new();
    for (i, c) in input.member_country_codes.iter().enumerate() {
        if let Some(code) = v.check(validate::country_code(
            &format!("forum.member_country_codes[{i}]"),
            c,
        )) {
            members.insert(code);
        }
    }
    v.finish()?;
    let (Some(display_name), Some(description)) = (display_name, description) else {
        unreachable!("Violations::finish returned Ok with a missing field");
    };
    Ok(Forum {
        id,
        display_name,
        description,
        members: members.into_iter().collect(),
        meta,
    })
}

pub fn validated_country(input: &CountryInput, meta: Meta) -> Result<Country> {
    let code = validate::country_code("country.code", &input.code)?;
    let display_name = if input.display_name.trim().is_empty() {
        validate::country_name(&code)
    } else {
        validate::name("country.display_name", &input.display_name)?
    };
    Ok(Country {
        code,
        display_name,
        meta,
    })
}

/// Picks the id from the request field or the resource's own id field (either may carry
/// it; both must agree).
pub fn requested_id(
    request_field: &str,
    from_request: &str,
    from_resource: &str,
) -> Result<String> {
    match (from_request.trim(), from_resource.trim()) {
        (a, b) if !a.is_empty() && !b.is_empty() && a != b => Err(Error::invalid(
            request_field,
            format!(
                "{} differs from the id {} inside the resource",
                validate::shown(a),
                validate::shown(b)
            ),
        )),
        (a, "") => Ok(a.to_string()),
        (_, b) => Ok(b.to_string()),
    }
}

/// The records that name a directory resource, and so keep it from being deleted.
#[derive(Debug, Default)]
pub struct Referrers {
    /// Event ids, cancelled events included: they stay on record.
    pub events: Vec<String>,
    /// Proposal ids (a participant as a party, a venue in the terms), ended ones included.
    pub proposals: Vec<String>,
}
