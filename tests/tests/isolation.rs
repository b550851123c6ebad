//! The generated isolation test: every RPC of every `entente.v1` service, taken from the
//! descriptor pool, is probed by every role of every office against a record of every
//! visibility, and no reply, error message or error detail may carry a record its caller
//! may not see. A new RPC without a probe here fails the test.
//!
//! The world: Russia's office owns three events (PUBLIC, PARTIES, PRIVATE) with Putin and
//! Lula, in the BRICS forum, on the sidelines of a public summit, each overridden by a public
//! Brazilian event; and three proposals (Putin to Lula) of the same visibilities. Their
//! titles and descriptions are canaries. Parties of the events: Russia, Brazil and the
//! BRICS secretariat; of the proposals: Russia and Brazil.

use std::collections::BTreeSet;

use entente_proto::v1 as pb;
use entente_tests::fixtures::{days, event, timed};
use entente_tests::offices::{self, as_, participant, venue};
use entente_tests::{Authed, TestServer};
use prost_types::FieldMask;

const OFFICES: &[&str] = &["IR", "TM", "BR", "brics-secretariat", "RU"];
const VISIBILITIES: &[(&str, pb::Visibility)] = &[
    ("public", pb::Visibility::Public),
    ("parties", pb::Visibility::Parties),
    ("private", pb::Visibility::Private),
];

/// Every token: a reader and an editor per office, then the administrator (last, so that
/// the probes of those who see least run on the world as it was set up).
fn tokens() -> Vec<(String, String, &'static str)> {
    let mut out = Vec::new();
    for office in OFFICES {
        for role in ["READER", "EDITOR"] {
            out.push((
                format!("{}-{}", office.to_lowercase(), role.to_lowercase()),
                office.to_string(),
                role,
            ));
        }
    }
    out.push(("admin".into(), "protocol-it".into(), "ADMIN"));
    out
}

/// Whether `office` may see an event of this visibility (Russia owns it; Brazil and the
/// BRICS secretariat are parties).
fn sees_event(office: &str, vis: &str) -> bool {
    match vis {
        "public" => true,
        "parties" => matches!(office, "RU" | "BR" | "brics-secretariat" | "protocol-it"),
        _ => matches!(office, "RU" | "protocol-it"),
    }
}

/// Whether `office` may see a proposal of this visibility (Russia and Brazil are parties).
fn sees_proposal(office: &str, vis: &str) -> bool {
    match vis {
        "public" => true,
        "parties" => matches!(office, "RU" | "BR" | "protocol-it"),
        _ => matches!(office, "RU" | "protocol-it"),
    }
}

fn event_id(vis: &str) -> String {
    format!("canary-{vis}")
}
fn event_content(vis: &str) -> [String; 2] {
    [
        format!("Canary title {vis}"),
        format!("Canary description {vis}"),
    ]
}
fn proposal_id(vis: &str) -> String {
    format!("canary-offer-{vis}")
}
fn proposal_content(vis: &str) -> [String; 2] {
    [
        format!("Canary offer {vis}"),
        format!("Canary offer notes {vis}"),
    ]
}

/// Where each zone canary is held and the zone its times were entered in: zones no other
/// record of the world uses, so that a hidden event's place or zone named anywhere is
/// found. (venue id, venue zone, its offset that day; entered zone, its offset that day)
fn zone_canary(vis: &str) -> [&'static str; 5] {
    match vis {
        "public" => [
            "hall-public",
            "Asia/Kolkata",
            "+05:30",
            "Asia/Yangon",
            "+06:30",
        ],
        "parties" => [
            "hall-parties",
            "Pacific/Chatham",
            "+12:45",
            "Australia/Eucla",
            "+08:45",
        ],
        _ => [
            "hall-private",
            "Asia/Kathmandu",
            "+05:45",
            "Pacific/Marquesas",
            "-09:30",
        ],
    }
}
fn zone_event_id(vis: &str) -> String {
    format!("zone-canary-{vis}")
}
fn zone_content(vis: &str) -> [String; 2] {
    [
        format!("Zone canary {vis}"),
        format!("Zone canary notes {vis}"),
    ]
}
/// The zone canaries' hours (Moscow time) before the day's probe window opens at 08:00: the
/// private one last, so that the slots of 08:00 have it as the leaders' previous event (with
/// its buffer, and its journey from Kathmandu).
fn zone_hours(vis: &str) -> (&'static str, &'static str) {
    match vis {
        "public" => ("05:00", "05:30"),
        "parties" => ("05:45", "06:45"),
        _ => ("07:00", "07:45"),
    }
}
/// What would give a hidden zone canary away: its venue's zone (unless the reply shows the
/// venue itself, a public directory record), and the zone its times were entered in.
fn zone_leak(text: &str, vis: &str) -> Option<&'static str> {
    let [venue, vz, vo, ez, eo] = zone_canary(vis);
    let compact = |o: &'static str| o.replacen(':', "", 1);
    let mut tells = vec![ez, eo];
    if !text.contains(venue) {
        tells.extend([vz, vo]);
    }
    tells.into_iter().find(|t| text.contains(t)).or_else(|| {
        [eo, vo]
            .into_iter()
            .find(|o| text.contains(&compact(o)) && (*o == eo || !text.contains(venue)))
    })
}

/// The day of the canary events, and the hour each starts.
const DAY: &str = "2025-09-10";
fn hour(vis: &str) -> u32 {
    match vis {
        "public" => 10,
        "parties" => 12,
        _ => 14,
    }
}

async fn world() -> TestServer {
    let tokens = tokens();
    let refs: Vec<(&str, &str, &str)> = tokens
        .iter()
        .map(|(n, o, r)| (n.as_str(), o.as_str(), *r))
        .collect();
    // Progress every 50 ms: a watch probe reads until the feed says it has caught up.
    let settings = entente_server::Settings {
        feed_progress: std::time::Duration::from_millis(50),
        ..entente_server::Settings::default()
    };
    let server = TestServer::start_with_access_and(offices::access(&refs, ""), settings).await;
    let mut admin = as_(&server, "admin");
    admin
        .directory
        .create_forum(pb::CreateForumRequest {
            forum: Some(pb::Forum {
                display_name: "BRICS".into(),
                member_country_codes: vec!["BR".into(), "RU".into(), "IR".into()],
                ..Default::default()
            }),
            forum_id: "brics".into(),
            ..Default::default()
        })
        .await
        .expect("forum");
    let mut ru = as_(&server, "ru-editor");
    let mut br = as_(&server, "br-editor");
    participant(&mut ru, "putin", "RU", "Europe/Moscow").await;
    participant(&mut br, "lula", "BR", "America/Sao_Paulo").await;
    participant(
        &mut as_(&server, "ir-editor"),
        "pezeshkian",
        "IR",
        "Asia/Tehran",
    )
    .await;
    participant(
        &mut as_(&server, "tm-editor"),
        "serdar",
        "TM",
        "Asia/Ashgabat",
    )
    .await;
    venue(
        &mut ru,
        "kremlin",
        "Moscow",
        "RU",
        "Europe/Moscow",
        Some((55.75, 37.62)),
    )
    .await;
    venue(
        &mut ru,
        "sochi",
        "Sochi",
        "RU",
        "Europe/Moscow",
        Some((43.6, 39.73)),
    )
    .await;
    venue(
        &mut br,
        "planalto",
        "Brasilia",
        "BR",
        "America/Sao_Paulo",
        Some((-15.8, -47.9)),
    )
    .await;
    let mut summit = event(
        pb::EventKind::Summit,
        "BRICS summit",
        "kremlin",
        &["putin"],
        days("2025-09-09", "2025-09-11"),
    );
    summit.forum_id = "brics".into();
    summit.visibility = pb::Visibility::Public as i32;
    ru.events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(summit)),
            event_id: "summit".into(),
            ..Default::default()
        })
        .await
        .expect("summit");
    for (vis, v) in VISIBILITIES {
        let h = hour(vis);
        let [title, description] = event_content(vis);
        let mut e = event(
            pb::EventKind::BilateralMeeting,
            &title,
            "kremlin",
            &["putin", "lula"],
            timed(&format!("{DAY}T{h}:00"), &format!("{DAY}T{}:00", h + 1)),
        );
        e.description = description;
        e.visibility = *v as i32;
        e.forum_id = "brics".into();
        e.parent_event_id = "summit".into();
        e.status = pb::EventStatus::Confirmed as i32;
        ru.events
            .create_event(pb::CreateEventRequest {
                event: Some(Box::new(e)),
                event_id: event_id(vis),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("canary {vis}: {e:?}"));
        let [title, description] = proposal_content(vis);
        ru.proposals
            .create_proposal(pb::CreateProposalRequest {
                proposal: Some(pb::Proposal {
                    kind: pb::ProposalKind::MeetingRequest as i32,
                    title,
                    description,
                    proposer: Some(party("putin")),
                    recipient: Some(party("lula")),
                    event_id: event_id(vis),
                    visibility: *v as i32,
                    ..Default::default()
                }),
                proposal_id: proposal_id(vis),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("canary proposal {vis}: {e:?}"));
    }
    // The zone canaries: the same leaders and visibilities, earlier that day, far away.
    for (vis, v) in VISIBILITIES {
        let [venue_id, venue_zone, _, entered, _] = zone_canary(vis);
        venue(
            &mut admin,
            venue_id,
            venue_id,
            "NP",
            venue_zone,
            Some((27.7, 85.3)),
        )
        .await;
        let (from, to) = zone_hours(vis);
        let [title, description] = zone_content(vis);
        let mut e = event(
            pb::EventKind::BilateralMeeting,
            &title,
            venue_id,
            &["putin", "lula"],
            None,
        );
        // The Moscow hours, entered as wall times of the canary's own zone.
        let moscow: chrono_tz::Tz = "Europe/Moscow".parse().unwrap();
        let zone: chrono_tz::Tz = entered.parse().unwrap();
        let wall = |hm: &str| {
            use chrono::TimeZone;
            let local =
                chrono::NaiveDateTime::parse_from_str(&format!("{DAY}T{hm}"), "%Y-%m-%dT%H:%M")
                    .unwrap();
            moscow
                .from_local_datetime(&local)
                .unwrap()
                .with_timezone(&zone)
                .format("%Y-%m-%dT%H:%M")
                .to_string()
        };
        e.timing = Some(pb::EventTiming {
            span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                start: wall(from),
                end: wall(to),
                time_zone: entered.into(),
            })),
        });
        e.description = description;
        e.visibility = *v as i32;
        e.status = pb::EventStatus::Confirmed as i32;
        ru.events
            .create_event(pb::CreateEventRequest {
                event: Some(Box::new(e)),
                event_id: zone_event_id(vis),
                allow_conflicts: true,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("zone canary {vis}: {e:?}"));
    }
    // Brazil writes a public event over all three at the Kremlin's hall.
    let mut over = event(
        pb::EventKind::Other,
        "Brazilian reception",
        "kremlin",
        &["lula"],
        timed(&format!("{DAY}T10:00"), &format!("{DAY}T16:00")),
    );
    over.visibility = pb::Visibility::Public as i32;
    over.status = pb::EventStatus::Confirmed as i32;
    br.events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(over)),
            event_id: "reception".into(),
            allow_conflicts: true,
            ..Default::default()
        })
        .await
        .expect("reception over the canaries");
    // A public proposal both sides accepted, for finalisation probes.
    let open = ru
        .proposals
        .create_proposal(pb::CreateProposalRequest {
            proposal: Some(pb::Proposal {
                kind: pb::ProposalKind::MeetingRequest as i32,
                title: "Open request".into(),
                proposer: Some(party("putin")),
                recipient: Some(party("lula")),
                visibility: pb::Visibility::Public as i32,
                ..Default::default()
            }),
            proposal_id: "open".into(),
            ..Default::default()
        })
        .await
        .expect("open proposal");
    let _ = open;
    br.proposals
        .accept_proposal(pb::AcceptProposalRequest {
            id: "open".into(),
            ..Default::default()
        })
        .await
        .expect("accepted");
    server
}

fn party(p: &str) -> pb::Party {
    pb::Party {
        party: Some(pb::party::Party::ParticipantId(p.into())),
    }
}

/// What a probe observed: the text of a reply or of an error, and the hidden ids the
/// request itself named (an echo of the caller's own input reveals nothing).
struct Seen {
    text: String,
    named: BTreeSet<String>,
}

fn seen<T: std::fmt::Debug>(
    r: Result<tonic::Response<T>, tonic::Status>,
    named: &[String],
) -> Seen {
    let text = match r {
        Ok(r) => format!("{:?}", r.into_inner()),
        Err(s) => format!(
            "{:?} {} {}",
            s.code(),
            s.message(),
            String::from_utf8_lossy(s.details())
        ),
    };
    Seen {
        text,
        named: named.iter().cloned().collect(),
    }
}

fn window() -> Option<pb::TimeWindow> {
    Some(pb::TimeWindow {
        start: "2025-09-01".into(),
        end: "2025-09-30".into(),
        time_zone: String::new(),
    })
}

/// A candidate over the canaries' hours at `venue`, with `participants`.
fn candidate(me: &str, venue: &str, participants: &[&str]) -> pb::Event {
    let mut e = event(
        pb::EventKind::BilateralMeeting,
        &format!("{me} probe"),
        venue,
        participants,
        timed(&format!("{DAY}T09:30"), &format!("{DAY}T16:30")),
    );
    e.status = pb::EventStatus::Confirmed as i32;
    e
}

/// Every scope an export or a feed can take in the world, with the hidden ids it names.
fn calendar_scopes() -> Vec<(pb::CalendarScope, Vec<String>)> {
    let scope = |participant: &str, venue: &str, forum: &str, parent: &str| pb::CalendarScope {
        participant_id: participant.into(),
        venue_id: venue.into(),
        forum_id: forum.into(),
        parent_event_id: parent.into(),
    };
    let mut out = vec![
        (scope("", "", "", ""), Vec::new()),
        (scope("putin", "", "", ""), Vec::new()),
        (scope("lula", "", "", ""), Vec::new()),
        (scope("", "kremlin", "", ""), Vec::new()),
        (scope("", "", "brics", ""), Vec::new()),
        (scope("", "", "", "summit"), Vec::new()),
    ];
    for (vis, _) in VISIBILITIES {
        let id = event_id(vis);
        out.push((scope("", "", "", &id), vec![id]));
    }
    out
}

/// The probes of one RPC by one caller (`me` is its token name, which prefixes the ids of
/// what it creates).
async fn probe(rpc: &str, a: &mut Authed, me: &str, server: &TestServer) -> Vec<Seen> {
    let ids: Vec<String> = VISIBILITIES.iter().map(|(v, _)| event_id(v)).collect();
    let pids: Vec<String> = VISIBILITIES.iter().map(|(v, _)| proposal_id(v)).collect();
    let mut out = Vec::new();
    match rpc {
        // The directory names no event or proposal, except in refused deletes.
        "DirectoryService/CreateCountry" => out.push(seen(
            a.directory
                .create_country(pb::CreateCountryRequest {
                    country: Some(pb::Country {
                        code: "FR".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "DirectoryService/GetCountry" => out.push(seen(
            a.directory
                .get_country(pb::GetCountryRequest { code: "RU".into() })
                .await,
            &[],
        )),
        "DirectoryService/ListCountries" => out.push(seen(
            a.directory
                .list_countries(pb::ListCountriesRequest::default())
                .await,
            &[],
        )),
        "DirectoryService/UpdateCountry" => out.push(seen(
            a.directory
                .update_country(pb::UpdateCountryRequest {
                    country: Some(pb::Country {
                        code: "RU".into(),
                        display_name: "Russia".into(),
                        ..Default::default()
                    }),
                    update_mask: None,
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "DirectoryService/DeleteCountry" => out.push(seen(
            a.directory
                .delete_country(pb::DeleteCountryRequest {
                    code: "ZZ".into(),
                    etag: String::new(),
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "DirectoryService/CreateParticipant" => out.push(seen(
            a.directory
                .create_participant(pb::CreateParticipantRequest {
                    participant: Some(pb::Participant {
                        display_name: "Aide".into(),
                        country_code: "BR".into(),
                        home_time_zone: "America/Sao_Paulo".into(),
                        ..Default::default()
                    }),
                    participant_id: format!("{me}-aide"),
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "DirectoryService/GetParticipant" => out.push(seen(
            a.directory
                .get_participant(pb::GetParticipantRequest { id: "lula".into() })
                .await,
            &[],
        )),
        "DirectoryService/ListParticipants" => out.push(seen(
            a.directory
                .list_participants(pb::ListParticipantsRequest::default())
                .await,
            &[],
        )),
        "DirectoryService/UpdateParticipant" => out.push(seen(
            a.directory
                .update_participant(pb::UpdateParticipantRequest {
                    participant: Some(pb::Participant {
                        id: "lula".into(),
                        title: "President".into(),
                        ..Default::default()
                    }),
                    update_mask: None,
                    ..Default::default()
                })
                .await,
            &[],
        )),
        // Refused: Putin and Lula are named by every canary.
        "DirectoryService/DeleteParticipant" => {
            for p in ["putin", "lula"] {
                out.push(seen(
                    a.directory
                        .delete_participant(pb::DeleteParticipantRequest {
                            id: p.into(),
                            etag: String::new(),
                            ..Default::default()
                        })
                        .await,
                    &[],
                ));
            }
        }
        "DirectoryService/CreateVenue" => out.push(seen(
            a.directory
                .create_venue(pb::CreateVenueRequest {
                    venue: Some(pb::Venue {
                        display_name: "Hall".into(),
                        city: "Rio".into(),
                        country_code: "BR".into(),
                        time_zone: "America/Sao_Paulo".into(),
                        ..Default::default()
                    }),
                    venue_id: format!("{me}-hall"),
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "DirectoryService/GetVenue" => out.push(seen(
            a.directory
                .get_venue(pb::GetVenueRequest {
                    id: "kremlin".into(),
                })
                .await,
            &[],
        )),
        "DirectoryService/ListVenues" => out.push(seen(
            a.directory
                .list_venues(pb::ListVenuesRequest::default())
                .await,
            &[],
        )),
        "DirectoryService/UpdateVenue" => out.push(seen(
            a.directory
                .update_venue(pb::UpdateVenueRequest {
                    venue: Some(pb::Venue {
                        id: "kremlin".into(),
                        display_name: "Kremlin".into(),
                        ..Default::default()
                    }),
                    update_mask: None,
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "DirectoryService/DeleteVenue" => out.push(seen(
            a.directory
                .delete_venue(pb::DeleteVenueRequest {
                    id: "kremlin".into(),
                    etag: String::new(),
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "DirectoryService/CreateForum" => out.push(seen(
            a.directory
                .create_forum(pb::CreateForumRequest {
                    forum: Some(pb::Forum {
                        display_name: "SCO".into(),
                        ..Default::default()
                    }),
                    forum_id: format!("{me}-sco"),
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "DirectoryService/GetForum" => out.push(seen(
            a.directory
                .get_forum(pb::GetForumRequest { id: "brics".into() })
                .await,
            &[],
        )),
        "DirectoryService/ListForums" => out.push(seen(
            a.directory
                .list_forums(pb::ListForumsRequest::default())
                .await,
            &[],
        )),
        "DirectoryService/UpdateForum" => out.push(seen(
            a.directory
                .update_forum(pb::UpdateForumRequest {
                    forum: Some(pb::Forum {
                        id: "brics".into(),
                        description: "Brazil, Russia, India, China, South Africa and more".into(),
                        ..Default::default()
                    }),
                    update_mask: None,
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "DirectoryService/DeleteForum" => out.push(seen(
            a.directory
                .delete_forum(pb::DeleteForumRequest {
                    id: "brics".into(),
                    etag: String::new(),
                    ..Default::default()
                })
                .await,
            &[],
        )),

        "EventService/CreateEvent" => {
            // Over the canaries' hours (conflicts), on the summit's sidelines, under a
            // canary as parent, and written over them (overrides).
            for (venue, who) in [("kremlin", &["putin"][..]), ("sochi", &["lula"][..])] {
                out.push(seen(
                    a.events
                        .create_event(pb::CreateEventRequest {
                            event: Some(Box::new(candidate(me, venue, who))),
                            event_id: format!("{me}-{venue}"),
                            allow_conflicts: true,
                            ..Default::default()
                        })
                        .await,
                    &[],
                ));
            }
            for id in &ids {
                let mut e = candidate(me, "kremlin", &["lula"]);
                e.parent_event_id = id.clone();
                out.push(seen(
                    a.events
                        .create_event(pb::CreateEventRequest {
                            event: Some(Box::new(e)),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
                out.push(seen(
                    a.events
                        .create_event(pb::CreateEventRequest {
                            event: Some(Box::new(candidate(me, "kremlin", &["lula"]))),
                            event_id: id.clone(),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }
        "EventService/GetEvent" => {
            for id in ids.iter().chain([&"reception".to_string()]) {
                out.push(seen(
                    a.events
                        .get_event(pb::GetEventRequest {
                            id: id.clone(),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }
        "EventService/ListEvents" => {
            out.push(seen(
                a.events.list_events(pb::ListEventsRequest::default()).await,
                &[],
            ));
            out.push(seen(
                a.events
                    .list_events(pb::ListEventsRequest {
                        participant_id: "putin".into(),
                        window: window(),
                        page_size: 1,
                        ..Default::default()
                    })
                    .await,
                &[],
            ));
        }
        "EventService/UpdateEvent" => {
            for id in &ids {
                out.push(seen(
                    a.events
                        .update_event(pb::UpdateEventRequest {
                            event: Some(Box::new(pb::Event {
                                id: id.clone(),
                                kind: pb::EventKind::BilateralMeeting as i32,
                                ..Default::default()
                            })),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
            // Moving the summit would strand its sidelines, the canaries among them.
            out.push(seen(
                a.events
                    .update_event(pb::UpdateEventRequest {
                        event: Some(Box::new(pb::Event {
                            id: "summit".into(),
                            timing: days("2025-09-01", "2025-09-02"),
                            ..Default::default()
                        })),
                        update_mask: Some(FieldMask {
                            paths: vec!["timing".into()],
                        }),
                        ..Default::default()
                    })
                    .await,
                &[],
            ));
        }
        "EventService/CancelEvent" => {
            // The summit without cascade is refused, naming its live sidelines.
            out.push(seen(
                a.events
                    .cancel_event(pb::CancelEventRequest {
                        id: "summit".into(),
                        ..Default::default()
                    })
                    .await,
                &[],
            ));
            for id in &ids {
                out.push(seen(
                    a.events
                        .cancel_event(pb::CancelEventRequest {
                            id: id.clone(),
                            etag: "r999".into(),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }
        "EventService/GetProgramme" => {
            out.push(seen(
                a.events
                    .get_programme(pb::GetProgrammeRequest {
                        event_id: "summit".into(),
                        include_cancelled: true,
                        ..Default::default()
                    })
                    .await,
                &[],
            ));
            for id in &ids {
                out.push(seen(
                    a.events
                        .get_programme(pb::GetProgrammeRequest {
                            event_id: id.clone(),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }
        "EventService/GetAgenda" => {
            for p in ["putin", "lula"] {
                out.push(seen(
                    a.events
                        .get_agenda(pb::GetAgendaRequest {
                            participant_id: p.into(),
                            window: window(),
                            include_cancelled: true,
                            include_declined: true,
                            ..Default::default()
                        })
                        .await,
                    &[],
                ));
            }
        }
        "EventService/ListEventHistory" => {
            for id in ids.iter().chain([&"reception".to_string()]) {
                out.push(seen(
                    a.events
                        .list_event_history(pb::ListEventHistoryRequest {
                            event_id: id.clone(),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }
        "EventService/SetAttendance" => {
            for id in &ids {
                out.push(seen(
                    a.events
                        .set_attendance(pb::SetAttendanceRequest {
                            event_id: id.clone(),
                            participant_id: "lula".into(),
                            attendance: pb::Attendance::Confirmed as i32,
                            allow_conflicts: true,
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }
        "EventService/RecomputeInstants" => out.push(seen(
            a.events
                .recompute_instants(pb::RecomputeInstantsRequest { dry_run: true })
                .await,
            &[],
        )),

        "ConflictService/CheckConflicts" => {
            for (venue, who) in [
                ("kremlin", &["putin"][..]),
                ("planalto", &["putin", "lula"][..]),
            ] {
                out.push(seen(
                    a.conflicts
                        .check_conflicts(pb::CheckConflictsRequest {
                            event: Some(Box::new(candidate(me, venue, who))),
                            ..Default::default()
                        })
                        .await,
                    &[],
                ));
            }
            for id in &ids {
                out.push(seen(
                    a.conflicts
                        .check_conflicts(pb::CheckConflictsRequest {
                            event: Some(Box::new(pb::Event {
                                id: id.clone(),
                                title: "Probe".into(),
                                ..Default::default()
                            })),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }
        "ConflictService/QueryFreeBusy" => out.push(seen(
            a.conflicts
                .query_free_busy(pb::QueryFreeBusyRequest {
                    participant_ids: vec!["putin".into(), "lula".into()],
                    venue_ids: vec!["kremlin".into()],
                    window: window(),
                    ..Default::default()
                })
                .await,
            &[],
        )),

        "ProposalService/CreateProposal" => {
            for id in &ids {
                out.push(seen(
                    a.proposals
                        .create_proposal(pb::CreateProposalRequest {
                            proposal: Some(pb::Proposal {
                                kind: pb::ProposalKind::Agreement as i32,
                                title: "Agreement".into(),
                                proposer: Some(party("lula")),
                                recipient: Some(party("putin")),
                                target_event_id: id.clone(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }
        "ProposalService/GetProposal" => {
            for id in &pids {
                out.push(seen(
                    a.proposals
                        .get_proposal(pb::GetProposalRequest { id: id.clone() })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }
        "ProposalService/ListProposals" => out.push(seen(
            a.proposals
                .list_proposals(pb::ListProposalsRequest::default())
                .await,
            &[],
        )),
        "ProposalService/ListProposalHistory" => {
            for id in &pids {
                out.push(seen(
                    a.proposals
                        .list_proposal_history(pb::ListProposalHistoryRequest {
                            proposal_id: id.clone(),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }
        "ProposalService/AcceptProposal"
        | "ProposalService/DeclineProposal"
        | "ProposalService/CounterProposal"
        | "ProposalService/ReviseProposal"
        | "ProposalService/WithdrawProposal" => {
            for id in &pids {
                let named = std::slice::from_ref(id);
                let id = id.clone();
                let etag = "r999".to_string();
                let terms = Some(pb::ProposalTerms {
                    summary: "Later".into(),
                    ..Default::default()
                });
                let r = match rpc {
                    "ProposalService/AcceptProposal" => seen(
                        a.proposals
                            .accept_proposal(pb::AcceptProposalRequest {
                                id,
                                etag,
                                ..Default::default()
                            })
                            .await,
                        named,
                    ),
                    "ProposalService/DeclineProposal" => seen(
                        a.proposals
                            .decline_proposal(pb::DeclineProposalRequest {
                                id,
                                etag,
                                ..Default::default()
                            })
                            .await,
                        named,
                    ),
                    "ProposalService/CounterProposal" => seen(
                        a.proposals
                            .counter_proposal(pb::CounterProposalRequest {
                                id,
                                etag,
                                terms,
                                ..Default::default()
                            })
                            .await,
                        named,
                    ),
                    "ProposalService/ReviseProposal" => seen(
                        a.proposals
                            .revise_proposal(pb::ReviseProposalRequest {
                                id,
                                etag,
                                terms,
                                ..Default::default()
                            })
                            .await,
                        named,
                    ),
                    _ => seen(
                        a.proposals
                            .withdraw_proposal(pb::WithdrawProposalRequest {
                                id,
                                etag,
                                ..Default::default()
                            })
                            .await,
                        named,
                    ),
                };
                out.push(r);
            }
        }
        "ProposalService/FinaliseProposal" => {
            for id in &pids {
                out.push(seen(
                    a.proposals
                        .finalise_proposal(pb::FinaliseProposalRequest {
                            id: id.clone(),
                            etag: "r999".into(),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
            // The open proposal, finalised at each canary event.
            for id in &ids {
                out.push(seen(
                    a.proposals
                        .finalise_proposal(pb::FinaliseProposalRequest {
                            id: "open".into(),
                            event_id: id.clone(),
                            confirm_event: true,
                            etag: "r999".into(),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }

        "ChangeService/ListChanges" => {
            let mut token = String::new();
            loop {
                let r = a
                    .changes
                    .list_changes(pb::ListChangesRequest {
                        include_before: true,
                        page_size: 7,
                        page_token: token.clone(),
                        ..Default::default()
                    })
                    .await;
                let next = r
                    .as_ref()
                    .map(|r| r.get_ref().next_page_token.clone())
                    .unwrap_or_default();
                out.push(seen(r, &[]));
                if next.is_empty() {
                    break;
                }
                token = next;
            }
        }
        "ChangeService/WatchChanges" => {
            // Everything from the start, until the feed says it has sent all there is.
            let current = a
                .changes
                .list_changes(pb::ListChangesRequest::default())
                .await
                .map(|r| r.into_inner().revision)
                .unwrap_or_default();
            match a
                .changes
                .watch_changes(pb::WatchChangesRequest {
                    include_before: true,
                    ..Default::default()
                })
                .await
            {
                Err(e) => out.push(seen::<()>(Err(e), &[])),
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    loop {
                        let next = tokio::time::timeout(
                            std::time::Duration::from_secs(10),
                            stream.message(),
                        )
                        .await
                        .expect("the watch keeps talking");
                        match next {
                            Ok(Some(m)) => {
                                let done = matches!(
                                    &m.message,
                                    Some(pb::watch_changes_response::Message::Progress(p))
                                        if p.revision >= current
                                );
                                out.push(seen(Ok(tonic::Response::new(m)), &[]));
                                if done {
                                    break;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                out.push(seen::<()>(Err(e), &[]));
                                break;
                            }
                        }
                    }
                }
            }
        }

        // Working calendars name no event or proposal.
        "CalendarService/GetWorkCalendar" => out.push(seen(
            a.calendars
                .get_work_calendar(pb::GetWorkCalendarRequest {
                    country_code: "IR".into(),
                })
                .await,
            &[],
        )),
        "CalendarService/ListWorkCalendars" => out.push(seen(
            a.calendars
                .list_work_calendars(pb::ListWorkCalendarsRequest::default())
                .await,
            &[],
        )),
        "CalendarService/UpdateWorkCalendar" => out.push(seen(
            a.calendars
                .update_work_calendar(pb::UpdateWorkCalendarRequest {
                    work_calendar: Some(pb::WorkCalendar {
                        country_code: "BR".into(),
                        holidays: vec![pb::Holiday {
                            date: "2025-09-07".into(),
                            name: "Independence Day".into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    update_mask: None,
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "CalendarService/DeleteWorkCalendar" => out.push(seen(
            a.calendars
                .delete_work_calendar(pb::DeleteWorkCalendarRequest {
                    country_code: "BR".into(),
                    etag: String::new(),
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "CalendarService/ImportHolidays" => out.push(seen(
            a.calendars
                .import_holidays(pb::ImportHolidaysRequest {
                    country_code: "RU".into(),
                    icalendar: "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
                        BEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20250101T000000Z\r\n\
                        DTSTART;VALUE=DATE:20251104\r\nSUMMARY:Unity Day\r\nEND:VEVENT\r\n\
                        END:VCALENDAR\r\n"
                        .into(),
                    ..Default::default()
                })
                .await,
            &[],
        )),
        "CalendarService/FindSlots" => {
            // Everyone optional, so that every candidate comes back with what is against
            // it: the canaries as busy time, in buffers, at the venue and (from Sochi) as
            // journeys; and without a place, as where the leaders will be.
            let minutes = |m: i64| {
                Some(prost_types::Duration {
                    seconds: m * 60,
                    nanos: 0,
                })
            };
            let loose = pb::SlotConstraints {
                working_hours: Some(pb::WorkingHours {
                    strength: pb::ConstraintStrength::Ignore as i32,
                    ..Default::default()
                }),
                buffer_before: minutes(60),
                buffer_after: minutes(60),
                buffers: pb::ConstraintStrength::Soft as i32,
                travel: pb::ConstraintStrength::Soft as i32,
                ..Default::default()
            };
            let people = |optional: bool| {
                ["putin", "lula"]
                    .iter()
                    .map(|p| pb::SlotParticipant {
                        participant_id: p.to_string(),
                        optional,
                        ..Default::default()
                    })
                    .collect::<Vec<_>>()
            };
            let day = Some(pb::TimeWindow {
                start: format!("{DAY}T08:00"),
                end: format!("{DAY}T18:00"),
                time_zone: "Europe/Moscow".into(),
            });
            for venues in [vec!["kremlin".to_string()], vec!["sochi".into()], vec![]] {
                out.push(seen(
                    a.calendars
                        .find_slots(pb::FindSlotsRequest {
                            participants: people(true),
                            duration: minutes(60),
                            window: day.clone(),
                            venue_ids: venues,
                            constraints: Some(loose.clone()),
                            granularity: minutes(30),
                            max_results: 100,
                            ..Default::default()
                        })
                        .await,
                    &[],
                ));
            }
            // Required: nothing fits, and the diagnostics say why.
            out.push(seen(
                a.calendars
                    .find_slots(pb::FindSlotsRequest {
                        participants: people(false),
                        duration: minutes(60),
                        window: day.clone(),
                        venue_ids: vec!["kremlin".into()],
                        max_results: 100,
                        ..Default::default()
                    })
                    .await,
                &[],
            ));
            // On the sidelines of the summit, and of each canary.
            for parent in ["summit".to_string()].iter().chain(&ids) {
                out.push(seen(
                    a.calendars
                        .find_slots(pb::FindSlotsRequest {
                            participants: people(true),
                            duration: minutes(60),
                            parent_event_id: parent.clone(),
                            constraints: Some(loose.clone()),
                            granularity: minutes(60),
                            max_results: 100,
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(parent),
                ));
            }
        }

        "ICalendarService/ExportCalendar" => {
            for (scope, named) in calendar_scopes() {
                for utc_times in [false, true] {
                    out.push(seen(
                        a.ics
                            .export_calendar(pb::ExportCalendarRequest {
                                scope: Some(scope.clone()),
                                window: window(),
                                utc_times,
                                include_cancelled: true,
                            })
                            .await,
                        &named,
                    ));
                }
            }
        }
        "ICalendarService/ImportCalendar" => {
            // Over the canaries' hours with their participants and hall (conflicts), and
            // under their own UIDs (an update of a hidden event), dry and for real.
            let vevent = |uid: &str, parent: &str| {
                format!(
                    "BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{me} import\r\n\
                     DTSTART;TZID=Europe/Moscow:20250910T093000\r\n\
                     DTEND;TZID=Europe/Moscow:20250910T163000\r\nLOCATION:kremlin\r\n\
                     ATTENDEE:urn:entente:participant:putin\r\n\
                     ATTENDEE:urn:entente:participant:lula\r\n\
                     RELATED-TO:{parent}@entente\r\nEND:VEVENT\r\n"
                )
            };
            let mut body = vevent(&format!("{me}-import@x"), "summit");
            for id in &ids {
                body += &vevent(&format!("{id}@entente"), id);
                body += &vevent(&format!("{me}-{id}@x"), id);
            }
            let ics = format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n{body}END:VCALENDAR\r\n"
            );
            for (dry_run, status) in [
                (true, pb::EventStatus::Confirmed),
                (false, pb::EventStatus::Tentative),
                (false, pb::EventStatus::Confirmed),
            ] {
                out.push(seen(
                    a.ics
                        .import_calendar(pb::ImportCalendarRequest {
                            ics: ics.clone(),
                            dry_run,
                            status: status as i32,
                            ..Default::default()
                        })
                        .await,
                    &ids,
                ));
            }
        }
        "ICalendarService/CreateCalendarFeed" => {
            // Each feed's HTTP body is what the probe sees.
            for (scope, named) in calendar_scopes() {
                let r = a
                    .ics
                    .create_calendar_feed(pb::CreateCalendarFeedRequest {
                        feed: Some(pb::CalendarFeed {
                            scope: Some(scope),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await;
                if let Ok(r) = &r {
                    let path = r
                        .get_ref()
                        .feed
                        .as_ref()
                        .map(|f| f.path.clone())
                        .unwrap_or_default();
                    let (status, _, body) = server.http_get(&path, &[]).await;
                    out.push(Seen {
                        text: format!("{status} {body}"),
                        named: named.iter().cloned().collect(),
                    });
                }
                out.push(seen(r, &named));
            }
        }
        "ICalendarService/ListCalendarFeeds" => out.push(seen(
            a.ics
                .list_calendar_feeds(pb::ListCalendarFeedsRequest {})
                .await,
            &[],
        )),
        "ICalendarService/DeleteCalendarFeed" => {
            for id in ids.iter().chain(&pids) {
                out.push(seen(
                    a.ics
                        .delete_calendar_feed(pb::DeleteCalendarFeedRequest {
                            id: id.clone(),
                            ..Default::default()
                        })
                        .await,
                    std::slice::from_ref(id),
                ));
            }
        }

        "AuditService/ListAuditRecords" => out.push(seen(
            a.audit
                .list_audit_records(pb::ListAuditRecordsRequest::default())
                .await,
            &[],
        )),
        other => panic!(
            "RPC {other} has no isolation probe: add one to tests/tests/isolation.rs before it \
             lands"
        ),
    }
    out
}

/// Every RPC of every entente.v1 service, as "Service/Method".
fn every_rpc() -> Vec<String> {
    let pool = prost_reflect::DescriptorPool::decode(entente_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let mut out = Vec::new();
    for service in pool.services() {
        if service.package_name() != "entente.v1" {
            continue;
        }
        for m in service.methods() {
            out.push(format!("{}/{}", service.name(), m.name()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_rpc_shows_an_office_what_it_may_not_see() {
    let rpcs = every_rpc();
    assert!(rpcs.len() >= 45, "{rpcs:?}");
    let mut leaks = Vec::new();
    let mut shown = 0usize;
    for rpc in &rpcs {
        let server = world().await;
        for (token, office, role) in tokens() {
            let mut a = as_(&server, &token);
            for s in probe(rpc, &mut a, &token, &server).await {
                for (vis, _) in VISIBILITIES {
                    let records = [
                        (sees_event(&office, vis), event_id(vis), event_content(vis)),
                        (
                            sees_proposal(&office, vis),
                            proposal_id(vis),
                            proposal_content(vis),
                        ),
                        (
                            sees_event(&office, vis),
                            zone_event_id(vis),
                            zone_content(vis),
                        ),
                    ];
                    if !sees_event(&office, vis)
                        && let Some(tell) = zone_leak(&s.text, vis)
                    {
                        leaks.push(format!(
                            "{rpc} as {token} ({office} {role}) shows where the {vis} zone \
                             canary is ({tell}): {}",
                            s.text
                        ));
                    }
                    for (visible, id, content) in records {
                        let mut canaries: Vec<&String> = content.iter().collect();
                        if !s.named.contains(&id) {
                            canaries.push(&id);
                        }
                        let found = canaries.iter().any(|c| s.text.contains(c.as_str()));
                        if visible {
                            shown += usize::from(found);
                        } else if found {
                            leaks.push(format!(
                                "{rpc} as {token} ({office} {role}) shows the {vis} record {id}: {}",
                                s.text
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    // The scan is not vacuous: what may be seen is seen, and found.
    assert!(shown > 100, "only {shown} sightings of visible records");
}
