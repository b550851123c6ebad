//! `entente country|participant|venue|forum ...`: the directory.

use clap::{Args, Subcommand, ValueEnum};
use entente_client::Client;
use entente_client::proto as pb;
use prost_types::FieldMask;

use super::{Out, Res, every_page, usage};

/// Country commands.
#[derive(Debug, Subcommand)]
pub enum CountryCmd {
    /// Register a country by ISO code.
    Create {
        /// ISO 3166-1 alpha-2 code, e.g. RU.
        code: String,
        /// Display name (default: the ISO name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Show one country.
    Get {
        /// ISO code.
        code: String,
    },
    /// List countries.
    List,
    /// Rename a country.
    Update {
        /// ISO code.
        code: String,
        /// New display name.
        #[arg(long)]
        name: String,
    },
    /// Remove a country.
    Delete {
        /// ISO code.
        code: String,
    },
}

/// Participant ranks.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    /// President, monarch.
    HeadOfState,
    /// Prime minister, chancellor.
    HeadOfGovernment,
    /// Member of a government.
    Minister,
    /// A delegation.
    Delegation,
    /// Another official.
    Official,
}

impl Role {
    fn proto(self) -> pb::ParticipantRole {
        match self {
            Role::HeadOfState => pb::ParticipantRole::HeadOfState,
            Role::HeadOfGovernment => pb::ParticipantRole::HeadOfGovernment,
            Role::Minister => pb::ParticipantRole::Minister,
            Role::Delegation => pb::ParticipantRole::Delegation,
            Role::Official => pb::ParticipantRole::Official,
        }
    }
}

/// Fields of a participant.
#[derive(Debug, Args)]
pub struct ParticipantArgs {
    /// Display name, e.g. "Vladimir Putin".
    #[arg(long)]
    name: Option<String>,
    /// Rank.
    #[arg(long, value_enum)]
    role: Option<Role>,
    /// Title, e.g. "President of the Russian Federation".
    #[arg(long)]
    title: Option<String>,
    /// ISO country code.
    #[arg(long)]
    country: Option<String>,
    /// Home IANA time zone, e.g. Europe/Moscow.
    #[arg(long)]
    zone: Option<String>,
}

/// Participant commands.
#[derive(Debug, Subcommand)]
pub enum ParticipantCmd {
    /// Register a participant.
    Create {
        /// Readable id, e.g. putin (default: generated).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        fields: ParticipantArgs,
    },
    /// Show one participant.
    Get {
        /// Participant id.
        id: String,
    },
    /// List participants.
    List {
        /// Only this country's.
        #[arg(long)]
        country: Option<String>,
    },
    /// Change the given fields.
    Update {
        /// Participant id.
        id: String,
        #[command(flatten)]
        fields: ParticipantArgs,
    },
    /// Remove a participant.
    Delete {
        /// Participant id.
        id: String,
    },
}

/// Fields of a venue.
#[derive(Debug, Args)]
pub struct VenueArgs {
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// City.
    #[arg(long)]
    city: Option<String>,
    /// ISO country code.
    #[arg(long)]
    country: Option<String>,
    /// IANA time zone, e.g. Asia/Ashgabat.
    #[arg(long)]
    zone: Option<String>,
    /// Latitude in degrees (with --lng).
    #[arg(long, requires = "lng", allow_hyphen_values = true)]
    lat: Option<f64>,
    /// Longitude in degrees (with --lat).
    #[arg(long, requires = "lat", allow_hyphen_values = true)]
    lng: Option<f64>,
}

/// Venue commands.
#[derive(Debug, Subcommand)]
pub enum VenueCmd {
    /// Register a venue.
    Create {
        /// Readable id, e.g. kazan-expo (default: generated).
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        fields: VenueArgs,
    },
    /// Show one venue.
    Get {
        /// Venue id.
        id: String,
    },
    /// List venues.
    List {
        /// Only this country's.
        #[arg(long)]
        country: Option<String>,
        /// Only this city's.
        #[arg(long)]
        city: Option<String>,
    },
    /// Change the given fields.
    Update {
        /// Venue id.
        id: String,
        #[command(flatten)]
        fields: VenueArgs,
    },
    /// Remove a venue.
    Delete {
        /// Venue id.
        id: String,
    },
}

/// Forum commands.
#[derive(Debug, Subcommand)]
pub enum ForumCmd {
    /// Register a forum.
    Create {
        /// Readable id, e.g. brics (default: generated).
        #[arg(long)]
        id: Option<String>,
        /// Display name, e.g. BRICS.
        #[arg(long)]
        name: String,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// A member country (repeat).
        #[arg(long = "member")]
        members: Vec<String>,
    },
    /// Show one forum.
    Get {
        /// Forum id.
        id: String,
    },
    /// List forums.
    List {
        /// Only those this country belongs to.
        #[arg(long)]
        member: Option<String>,
    },
    /// Change the given fields.
    Update {
        /// Forum id.
        id: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Free text.
        #[arg(long)]
        description: Option<String>,
        /// Replace the members with these (repeat).
        #[arg(long = "member")]
        members: Vec<String>,
    },
    /// Remove a forum.
    Delete {
        /// Forum id.
        id: String,
    },
}

/// Builds a mask of the flags given.
fn mask(paths: &[(&str, bool)]) -> Option<FieldMask> {
    let paths: Vec<String> = paths
        .iter()
        .filter(|(_, set)| *set)
        .map(|(p, _)| p.to_string())
        .collect();
    Some(FieldMask { paths })
}

fn show_country(out: &Out, c: &pb::Country) -> Res {
    if out.json {
        return Ok(out.json_one(c, "entente.v1.Country")?);
    }
    Ok(out.fields(&[("code", c.code.clone()), ("name", c.display_name.clone())])?)
}

fn show_participant(out: &Out, p: &pb::Participant) -> Res {
    if out.json {
        return Ok(out.json_one(p, "entente.v1.Participant")?);
    }
    Ok(out.fields(&[
        ("id", p.id.clone()),
        ("name", p.display_name.clone()),
        (
            "role",
            super::output::enum_name(p.role().as_str_name(), "PARTICIPANT_ROLE_"),
        ),
        ("title", p.title.clone()),
        ("country", p.country_code.clone()),
        ("zone", p.home_time_zone.clone()),
    ])?)
}

fn show_venue(out: &Out, v: &pb::Venue) -> Res {
    if out.json {
        return Ok(out.json_one(v, "entente.v1.Venue")?);
    }
    Ok(out.fields(&[
        ("id", v.id.clone()),
        ("name", v.display_name.clone()),
        ("city", format!("{} ({})", v.city, v.country_code)),
        ("zone", v.time_zone.clone()),
        (
            "location",
            v.location
                .map(|l| format!("{:.4}, {:.4}", l.latitude, l.longitude))
                .unwrap_or_default(),
        ),
    ])?)
}

fn show_forum(out: &Out, f: &pb::Forum) -> Res {
    if out.json {
        return Ok(out.json_one(f, "entente.v1.Forum")?);
    }
    Ok(out.fields(&[
        ("id", f.id.clone()),
        ("name", f.display_name.clone()),
        ("members", f.member_country_codes.join(", ")),
        ("description", f.description.clone()),
    ])?)
}

/// Runs a country command.
pub async fn country(client: &Client, out: &Out, cmd: CountryCmd) -> Res {
    let mut d = client.directory();
    match cmd {
        CountryCmd::Create { code, name } => {
            let c = d
                .create_country(pb::CreateCountryRequest {
                    country: Some(pb::Country {
                        code,
                        display_name: name.unwrap_or_default(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await?
                .into_inner();
            show_country(out, &c.country.unwrap_or_default())
        }
        CountryCmd::Get { code } => {
            let c = d
                .get_country(pb::GetCountryRequest { code })
                .await?
                .into_inner();
            show_country(out, &c.country.unwrap_or_default())
        }
        CountryCmd::List => {
            let all = every_page(|page_token| {
                let mut c = d.clone();
                let req = pb::ListCountriesRequest {
                    page_size: 1000,
                    page_token,
                };
                async move {
                    let page = c.list_countries(req).await?.into_inner();
                    Ok((page.countries, page.next_page_token))
                }
            })
            .await?;
            if out.json {
                return Ok(out.json_many(&all, "entente.v1.Country")?);
            }
            Ok(out.table(
                &["CODE", "NAME"],
                all.into_iter()
                    .map(|c| vec![c.code, c.display_name])
                    .collect(),
            )?)
        }
        CountryCmd::Update { code, name } => {
            let c = d
                .update_country(pb::UpdateCountryRequest {
                    country: Some(pb::Country {
                        code,
                        display_name: name,
                        ..Default::default()
                    }),
                    update_mask: mask(&[("display_name", true)]),
                    ..Default::default()
                })
                .await?
                .into_inner();
            show_country(out, &c.country.unwrap_or_default())
        }
        CountryCmd::Delete { code } => {
            d.delete_country(pb::DeleteCountryRequest {
                code: code.clone(),
                etag: String::new(),
                ..Default::default()
            })
            .await?;
            Ok(out.line(&format!("deleted country {code}"))?)
        }
    }
}

fn participant_of(id: String, f: &ParticipantArgs) -> pb::Participant {
    pb::Participant {
        id,
        display_name: f.name.clone().unwrap_or_default(),
        role: f.role.map_or(pb::ParticipantRole::Unspecified, Role::proto) as i32,
        title: f.title.clone().unwrap_or_default(),
        country_code: f.country.clone().unwrap_or_default(),
        home_time_zone: f.zone.clone().unwrap_or_default(),
        ..Default::default()
    }
}

/// Runs a participant command.
pub async fn participant(client: &Client, out: &Out, cmd: ParticipantCmd) -> Res {
    let mut d = client.directory();
    match cmd {
        ParticipantCmd::Create { id, fields } => {
            let p = d
                .create_participant(pb::CreateParticipantRequest {
                    participant: Some(participant_of(String::new(), &fields)),
                    participant_id: id.unwrap_or_default(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            show_participant(out, &p.participant.unwrap_or_default())
        }
        ParticipantCmd::Get { id } => {
            let p = d
                .get_participant(pb::GetParticipantRequest { id })
                .await?
                .into_inner();
            show_participant(out, &p.participant.unwrap_or_default())
        }
        ParticipantCmd::List { country } => {
            let all = every_page(|page_token| {
                let mut c = d.clone();
                let req = pb::ListParticipantsRequest {
                    page_size: 1000,
                    page_token,
                    country_code: country.clone().unwrap_or_default(),
                };
                async move {
                    let page = c.list_participants(req).await?.into_inner();
                    Ok((page.participants, page.next_page_token))
                }
            })
            .await?;
            if out.json {
                return Ok(out.json_many(&all, "entente.v1.Participant")?);
            }
            let rows = all
                .into_iter()
                .map(|p| {
                    vec![
                        p.id,
                        p.display_name,
                        p.country_code,
                        p.home_time_zone,
                        p.title,
                    ]
                })
                .collect();
            Ok(out.table(&["ID", "NAME", "COUNTRY", "ZONE", "TITLE"], rows)?)
        }
        ParticipantCmd::Update { id, fields } => {
            let m = mask(&[
                ("display_name", fields.name.is_some()),
                ("role", fields.role.is_some()),
                ("title", fields.title.is_some()),
                ("country_code", fields.country.is_some()),
                ("home_time_zone", fields.zone.is_some()),
            ]);
            if m.as_ref().is_some_and(|m| m.paths.is_empty()) {
                return Err(usage(
                    "nothing to update: give at least one of --name, --role, --title, --country, --zone",
                ));
            }
            let p = d
                .update_participant(pb::UpdateParticipantRequest {
                    participant: Some(participant_of(id, &fields)),
                    update_mask: m,
                    ..Default::default()
                })
                .await?
                .into_inner();
            show_participant(out, &p.participant.unwrap_or_default())
        }
        ParticipantCmd::Delete { id } => {
            d.delete_participant(pb::DeleteParticipantRequest {
                id: id.clone(),
                etag: String::new(),
                ..Default::default()
            })
            .await?;
            Ok(out.line(&format!("deleted participant {id}"))?)
        }
    }
}

fn venue_of(id: String, f: &VenueArgs) -> pb::Venue {
    pb::Venue {
        id,
        display_name: f.name.clone().unwrap_or_default(),
        city: f.city.clone().unwrap_or_default(),
        country_code: f.country.clone().unwrap_or_default(),
        time_zone: f.zone.clone().unwrap_or_default(),
        location: f.lat.zip(f.lng).map(|(latitude, longitude)| pb::LatLng {
            latitude,
            longitude,
        }),
        ..Default::default()
    }
}

/// Runs a venue command.
pub async fn venue(client: &Client, out: &Out, cmd: VenueCmd) -> Res {
    let mut d = client.directory();
    match cmd {
        VenueCmd::Create { id, fields } => {
            let v = d
                .create_venue(pb::CreateVenueRequest {
                    venue: Some(venue_of(String::new(), &fields)),
                    venue_id: id.unwrap_or_default(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            show_venue(out, &v.venue.unwrap_or_default())
        }
        VenueCmd::Get { id } => {
            let v = d.get_venue(pb::GetVenueRequest { id }).await?.into_inner();
            show_venue(out, &v.venue.unwrap_or_default())
        }
        VenueCmd::List { country, city } => {
            let all = every_page(|page_token| {
                let mut c = d.clone();
                let req = pb::ListVenuesRequest {
                    page_size: 1000,
                    page_token,
                    country_code: country.clone().unwrap_or_default(),
                    city: city.clone().unwrap_or_default(),
                };
                async move {
                    let page = c.list_venues(req).await?.into_inner();
                    Ok((page.venues, page.next_page_token))
                }
            })
            .await?;
            if out.json {
                return Ok(out.json_many(&all, "entente.v1.Venue")?);
            }
            let rows = all
                .into_iter()
                .map(|v| {
                    vec![
                        v.id,
                        v.display_name,
                        format!("{} ({})", v.city, v.country_code),
                        v.time_zone,
                    ]
                })
                .collect();
            Ok(out.table(&["ID", "NAME", "CITY", "ZONE"], rows)?)
        }
        VenueCmd::Update { id, fields } => {
            let m = mask(&[
                ("display_name", fields.name.is_some()),
                ("city", fields.city.is_some()),
                ("country_code", fields.country.is_some()),
                ("time_zone", fields.zone.is_some()),
                ("location", fields.lat.is_some()),
            ]);
            if m.as_ref().is_some_and(|m| m.paths.is_empty()) {
                return Err(usage(
                    "nothing to update: give at least one of --name, --city, --country, --zone, --lat/--lng",
                ));
            }
            let v = d
                .update_venue(pb::UpdateVenueRequest {
                    venue: Some(venue_of(id, &fields)),
                    update_mask: m,
                    ..Default::default()
                })
                .await?
                .into_inner();
            show_venue(out, &v.venue.unwrap_or_default())
        }
        VenueCmd::Delete { id } => {
            d.delete_venue(pb::DeleteVenueRequest {
                id: id.clone(),
                etag: String::new(),
                ..Default::default()
            })
            .await?;
            Ok(out.line(&format!("deleted venue {id}"))?)
        }
    }
}

/// Runs a forum command.
pub async fn forum(client: &Client, out: &Out, cmd: ForumCmd) -> Res {
    let mut d = client.directory();
    match cmd {
        ForumCmd::Create {
            id,
            name,
            description,
            members,
        } => {
            let f = d
                .create_forum(pb::CreateForumRequest {
                    forum: Some(pb::Forum {
                        display_name: name,
                        description: description.unwrap_or_default(),
                        member_country_codes: members,
                        ..Default::default()
                    }),
                    forum_id: id.unwrap_or_default(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            show_forum(out, &f.forum.unwrap_or_default())
        }
        ForumCmd::Get { id } => {
            let f = d.get_forum(pb::GetForumRequest { id }).await?.into_inner();
            show_forum(out, &f.forum.unwrap_or_default())
        }
        ForumCmd::List { member } => {
            let all = every_page(|page_token| {
                let mut c = d.clone();
                let req = pb::ListForumsRequest {
                    page_size: 1000,
                    page_token,
                    member_country_code: member.clone().unwrap_or_default(),
                };
                async move {
                    let page = c.list_forums(req).await?.into_inner();
                    Ok((page.forums, page.next_page_token))
                }
            })
            .await?;
            if out.json {
                return Ok(out.json_many(&all, "entente.v1.Forum")?);
            }
            let rows = all
                .into_iter()
                .map(|f| vec![f.id, f.display_name, f.member_country_codes.join(" ")])
                .collect();
            Ok(out.table(&["ID", "NAME", "MEMBERS"], rows)?)
        }
        ForumCmd::Update {
            id,
            name,
            description,
            members,
        } => {
            let m = mask(&[
                ("display_name", name.is_some()),
                ("description", description.is_some()),
                ("member_country_codes", !members.is_empty()),
            ]);
            if m.as_ref().is_some_and(|m| m.paths.is_empty()) {
                return Err(usage(
                    "nothing to update: give at least one of --name, --description, --member",
                ));
            }
            let f = d
                .update_forum(pb::UpdateForumRequest {
                    forum: Some(pb::Forum {
                        id,
                        display_name: name.unwrap_or_default(),
                        description: description.unwrap_or_default(),
                        member_country_codes: members,
                        ..Default::default()
                    }),
                    update_mask: m,
                    ..Default::default()
                })
                .await?
                .into_inner();
            show_forum(out, &f.forum.unwrap_or_default())
        }
        ForumCmd::Delete { id } => {
            d.delete_forum(pb::DeleteForumRequest {
                id: id.clone(),
                etag: String::new(),
                ..Default::default()
            })
            .await?;
            Ok(out.line(&format!("deleted forum {id}"))?)
        }
    }
}
