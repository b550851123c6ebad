//! The directory over gRPC: CRUD for every resource, pagination, field masks, etags, and
//! every documented bad input with its code and field.

use entente_proto::v1 as pb;
use entente_tests::TestServer;
use entente_tests::fixtures::bad_fields;
use prost_types::FieldMask;
use tonic::Code;

fn venue(id: &str, name: &str, city: &str, country: &str, zone: &str) -> pb::CreateVenueRequest {
    pb::CreateVenueRequest {
        venue: Some(pb::Venue {
            display_name: name.into(),
            city: city.into(),
            country_code: country.into(),
            time_zone: zone.into(),
            location: None,
            ..Default::default()
        }),
        venue_id: id.into(),
        ..Default::default()
    }
}

fn putin() -> pb::CreateParticipantRequest {
    pb::CreateParticipantRequest {
        participant: Some(pb::Participant {
            display_name: "Vladimir Putin".into(),
            role: pb::ParticipantRole::HeadOfState as i32,
            title: "President of the Russian Federation".into(),
            country_code: "RU".into(),
            home_time_zone: "Europe/Moscow".into(),
            ..Default::default()
        }),
        participant_id: "putin".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn participants_round_trip_with_masks_and_etags() {
    let server = TestServer::start().await;
    let mut dir = server.directory();
    let created = dir
        .create_participant(putin())
        .await
        .expect("create")
        .into_inner()
        .participant
        .expect("participant");
    assert_eq!(created.id, "putin");
    assert_eq!(created.home_time_zone, "Europe/Moscow");
    assert!(!created.etag.is_empty());
    assert!(created.create_time.is_some() && created.update_time.is_some());

    let got = dir
        .get_participant(pb::GetParticipantRequest { id: "putin".into() })
        .await
        .expect("get")
        .into_inner()
        .participant
        .expect("participant");
    assert_eq!(got, created);

    // Update only the title: the mask leaves every other field as it was, even though the
    // request carries an empty display name.
    let updated = dir
        .update_participant(pb::UpdateParticipantRequest {
            participant: Some(pb::Participant {
                id: "putin".into(),
                title: "President of Russia".into(),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["title".into()],
            }),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .participant
        .expect("participant");
    assert_eq!(updated.title, "President of Russia");
    assert_eq!(updated.display_name, "Vladimir Putin");
    assert_eq!(updated.country_code, "RU");
    assert_ne!(updated.etag, created.etag);

    // The old etag is stale now.
    let stale = dir
        .update_participant(pb::UpdateParticipantRequest {
            participant: Some(pb::Participant {
                id: "putin".into(),
                title: "x".into(),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["title".into()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");

    // Without a mask, the fields the request sets are updated and the rest are kept
    // (AIP-134), so a client can send just what changes.
    let unmasked = dir
        .update_participant(pb::UpdateParticipantRequest {
            participant: Some(pb::Participant {
                id: "putin".into(),
                display_name: "Vladimir V. Putin".into(),
                role: pb::ParticipantRole::HeadOfState as i32,
                ..Default::default()
            }),
            update_mask: None,
            ..Default::default()
        })
        .await
        .expect("update without a mask")
        .into_inner()
        .participant
        .expect("participant");
    assert_eq!(unmasked.display_name, "Vladimir V. Putin");
    assert_eq!(unmasked.role, pb::ParticipantRole::HeadOfState as i32);
    assert_eq!(unmasked.title, "President of Russia");
    assert_eq!(unmasked.country_code, "RU");
    assert_eq!(unmasked.home_time_zone, "Europe/Moscow");

    // A stale etag on delete is refused too; the current one works.
    let err = dir
        .delete_participant(pb::DeleteParticipantRequest {
            id: "putin".into(),
            etag: created.etag.clone(),
            ..Default::default()
        })
        .await
        .expect_err("stale delete");
    assert_eq!(err.code(), Code::Aborted);
    dir.delete_participant(pb::DeleteParticipantRequest {
        id: "putin".into(),
        etag: unmasked.etag,
        ..Default::default()
    })
    .await
    .expect("delete");
    let err = dir
        .get_participant(pb::GetParticipantRequest { id: "putin".into() })
        .await
        .expect_err("gone");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn venues_countries_and_forums_round_trip() {
    let server = TestServer::start().await;
    let mut dir = server.directory();

    let mut req = venue("kazan-expo", "Kazan Expo", "Kazan", "ru", "Europe/Moscow");
    req.venue.as_mut().expect("venue").location = Some(pb::LatLng {
        latitude: 55.79,
        longitude: 49.12,
    });
    let v = dir
        .create_venue(req)
        .await
        .expect("venue")
        .into_inner()
        .venue
        .expect("venue");
    assert_eq!(v.country_code, "RU", "codes are normalised to upper case");
    assert_eq!(
        v.location,
        Some(pb::LatLng {
            latitude: 55.79,
            longitude: 49.12
        })
    );

    // Clearing the location through the mask.
    let v2 = dir
        .update_venue(pb::UpdateVenueRequest {
            venue: Some(pb::Venue {
                id: "kazan-expo".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["location".into()],
            }),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .venue
        .expect("venue");
    assert_eq!(v2.location, None);
    assert_eq!(v2.time_zone, "Europe/Moscow");

    let c = dir
        .create_country(pb::CreateCountryRequest {
            country: Some(pb::Country {
                code: "tm".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("country")
        .into_inner()
        .country
        .expect("country");
    assert_eq!(c.code, "TM");
    assert_eq!(
        c.display_name, "Turkmenistan",
        "the ISO name is the default"
    );
    let err = dir
        .create_country(pb::CreateCountryRequest {
            country: Some(pb::Country {
                code: "TM".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("duplicate");
    assert_eq!(err.code(), Code::AlreadyExists);

    let f = dir
        .create_forum(pb::CreateForumRequest {
            forum: Some(pb::Forum {
                display_name: "BRICS".into(),
                member_country_codes: vec!["RU".into(), "IR".into(), "cn".into(), "IR".into()],
                ..Default::default()
            }),
            forum_id: "brics".into(),
            ..Default::default()
        })
        .await
        .expect("forum")
        .into_inner()
        .forum
        .expect("forum");
    assert_eq!(f.id, "brics");
    assert_eq!(f.member_country_codes, vec!["CN", "IR", "RU"]);
    let err = dir
        .create_forum(pb::CreateForumRequest {
            forum: Some(pb::Forum {
                display_name: "BRICS again".into(),
                ..Default::default()
            }),
            forum_id: "brics".into(),
            ..Default::default()
        })
        .await
        .expect_err("duplicate id");
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");

    // A server-generated id is opaque, stable and valid.
    let sco = dir
        .create_forum(pb::CreateForumRequest {
            forum: Some(pb::Forum {
                display_name: "SCO".into(),
                ..Default::default()
            }),
            forum_id: String::new(),
            ..Default::default()
        })
        .await
        .expect("forum")
        .into_inner()
        .forum
        .expect("forum");
    assert!(!sco.id.is_empty());
    let again = dir
        .get_forum(pb::GetForumRequest { id: sco.id.clone() })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(again.forum.map(|f| f.display_name).as_deref(), Some("SCO"));

    let members = dir
        .list_forums(pb::ListForumsRequest {
            member_country_code: "IR".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(members.forums.len(), 1);
    assert_eq!(members.forums[0].id, "brics");
}

#[tokio::test]
async fn lists_paginate_across_several_pages() {
    let server = TestServer::start().await;
    let mut dir = server.directory();
    for i in 0..23 {
        dir.create_venue(venue(
            &format!("hall-{i:02}"),
            &format!("Hall {i}"),
            "Ashgabat",
            "TM",
            "Asia/Ashgabat",
        ))
        .await
        .expect("create");
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = dir
            .list_venues(pb::ListVenuesRequest {
                page_size: 5,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        pages += 1;
        assert!(page.venues.len() <= 5);
        seen.extend(page.venues.into_iter().map(|v| v.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 5);
    let expected: Vec<String> = (0..23).map(|i| format!("hall-{i:02}")).collect();
    assert_eq!(seen, expected, "every venue exactly once, in id order");

    let err = dir
        .list_venues(pb::ListVenuesRequest {
            page_token: "forged".into(),
            ..Default::default()
        })
        .await
        .expect_err("forged token");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), vec!["page_token"]);
    let err = dir
        .list_venues(pb::ListVenuesRequest {
            page_size: -3,
            ..Default::default()
        })
        .await
        .expect_err("negative size");
    assert_eq!(bad_fields(&err), vec!["page_size"]);
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let server = TestServer::start().await;
    let mut dir = server.directory();

    let cases: Vec<(pb::CreateVenueRequest, Code, &str, &str)> = vec![
        (
            venue("a", "", "Kazan", "RU", "Europe/Moscow"),
            Code::InvalidArgument,
            "venue.display_name",
            "required",
        ),
        (
            venue("b", &"x".repeat(201), "Kazan", "RU", "Europe/Moscow"),
            Code::InvalidArgument,
            "venue.display_name",
            "at most 200",
        ),
        (
            venue("c", "Hall", "Kazan", "RU", "Europe/Kazan"),
            Code::InvalidArgument,
            "venue.time_zone",
            "Europe/Kazan",
        ),
        (
            venue("d", "Hall", "Kazan", "XX", "Europe/Moscow"),
            Code::InvalidArgument,
            "venue.country_code",
            "XX",
        ),
        (
            venue("e", "Hall", "Kazan", "RUS", "Europe/Moscow"),
            Code::InvalidArgument,
            "venue.country_code",
            "RUS",
        ),
        (
            venue("Bad Id", "Hall", "Kazan", "RU", "Europe/Moscow"),
            Code::InvalidArgument,
            "venue_id",
            "not a valid id",
        ),
        (
            venue("f", "Hall", "", "RU", "Europe/Moscow"),
            Code::InvalidArgument,
            "venue.city",
            "required",
        ),
    ];
    for (req, code, field, words) in cases {
        let err = dir.create_venue(req).await.expect_err(field);
        assert_eq!(err.code(), code, "{field}: {err:?}");
        assert!(
            bad_fields(&err).contains(&field.to_string()),
            "{field}: {:?}",
            bad_fields(&err)
        );
        assert!(err.message().contains(words), "{field}: {}", err.message());
    }

    for (lat, lng, field) in [
        (91.0, 0.0, "venue.location.latitude"),
        (-90.5, 0.0, "venue.location.latitude"),
        (0.0, 180.5, "venue.location.longitude"),
        (f64::NAN, 0.0, "venue.location.latitude"),
    ] {
        let mut req = venue("g", "Hall", "Kazan", "RU", "Europe/Moscow");
        req.venue.as_mut().expect("venue").location = Some(pb::LatLng {
            latitude: lat,
            longitude: lng,
        });
        let err = dir.create_venue(req).await.expect_err("coordinates");
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(bad_fields(&err), vec![field]);
    }

    // Several bad fields are reported together.
    let err = dir
        .create_venue(venue("h", "", "", "??", "Nowhere/City"))
        .await
        .expect_err("all bad");
    let fields = bad_fields(&err);
    for f in [
        "venue.display_name",
        "venue.city",
        "venue.country_code",
        "venue.time_zone",
    ] {
        assert!(
            fields.contains(&f.to_string()),
            "{f} missing from {fields:?}"
        );
    }

    let mut p = putin();
    p.participant.as_mut().expect("p").home_time_zone = "Mars/Olympus".into();
    let err = dir.create_participant(p).await.expect_err("zone");
    assert_eq!(bad_fields(&err), vec!["participant.home_time_zone"]);
    assert!(err.message().contains("Mars/Olympus"));

    let err = dir
        .create_participant(pb::CreateParticipantRequest {
            participant: None,
            participant_id: String::new(),
            ..Default::default()
        })
        .await
        .expect_err("missing");
    assert_eq!(bad_fields(&err), vec!["participant"]);

    dir.create_participant(putin()).await.expect("first");
    let err = dir
        .create_participant(putin())
        .await
        .expect_err("duplicate");
    assert_eq!(err.code(), Code::AlreadyExists);

    let err = dir
        .update_participant(pb::UpdateParticipantRequest {
            participant: Some(pb::Participant {
                id: "putin".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["etag".into()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("mask");
    assert_eq!(bad_fields(&err), vec!["update_mask"]);

    let err = dir
        .update_participant(pb::UpdateParticipantRequest {
            participant: Some(pb::Participant {
                id: "nobody".into(),
                ..Default::default()
            }),
            update_mask: None,
            ..Default::default()
        })
        .await
        .expect_err("missing");
    assert_eq!(err.code(), Code::NotFound);

    // "*" means every field (a full replacement), so blank required fields are refused.
    let err = dir
        .update_participant(pb::UpdateParticipantRequest {
            participant: Some(pb::Participant {
                id: "putin".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["*".into()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("blank");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        bad_fields(&err),
        vec![
            "participant.display_name",
            "participant.country_code",
            "participant.home_time_zone"
        ]
    );
    // "*" stands alone.
    let err = dir
        .update_participant(pb::UpdateParticipantRequest {
            participant: Some(pb::Participant {
                id: "putin".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["*".into(), "title".into()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("star and more");
    assert_eq!(bad_fields(&err), vec!["update_mask"]);

    let err = dir
        .create_forum(pb::CreateForumRequest {
            forum: Some(pb::Forum {
                display_name: "CIS".into(),
                member_country_codes: vec!["RU".into(), "ZZ".into()],
                ..Default::default()
            }),
            forum_id: "cis".into(),
            ..Default::default()
        })
        .await
        .expect_err("member");
    assert_eq!(bad_fields(&err), vec!["forum.member_country_codes[1]"]);
}

#[tokio::test]
async fn the_directory_survives_a_restart() {
    let temp = tempfile::tempdir().expect("temp");
    let server = TestServer::start_in(temp.path(), Default::default()).await;
    let mut dir = server.directory();
    dir.create_participant(putin()).await.expect("participant");
    dir.create_venue(venue(
        "ashgabat-congress",
        "Congress Hall",
        "Ashgabat",
        "TM",
        "Asia/Ashgabat",
    ))
    .await
    .expect("venue");
    dir.create_forum(pb::CreateForumRequest {
        forum: Some(pb::Forum {
            display_name: "EAEU".into(),
            ..Default::default()
        }),
        forum_id: "eaeu".into(),
        ..Default::default()
    })
    .await
    .expect("forum");
    dir.create_country(pb::CreateCountryRequest {
        country: Some(pb::Country {
            code: "IR".into(),
            display_name: "Iran".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .expect("country");
    let before = dir
        .get_participant(pb::GetParticipantRequest { id: "putin".into() })
        .await
        .expect("get")
        .into_inner();
    drop(dir);
    server.stop().await;

    let server = TestServer::start_in(temp.path(), Default::default()).await;
    let mut dir = server.directory();
    let after = dir
        .get_participant(pb::GetParticipantRequest { id: "putin".into() })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(before, after);
    let v = dir
        .get_venue(pb::GetVenueRequest {
            id: "ashgabat-congress".into(),
        })
        .await
        .expect("venue")
        .into_inner();
    assert_eq!(
        v.venue.map(|v| v.time_zone).as_deref(),
        Some("Asia/Ashgabat")
    );
    let f = dir
        .get_forum(pb::GetForumRequest { id: "eaeu".into() })
        .await
        .expect("forum")
        .into_inner();
    assert_eq!(f.forum.map(|f| f.display_name).as_deref(), Some("EAEU"));
    let c = dir
        .get_country(pb::GetCountryRequest { code: "IR".into() })
        .await
        .expect("country")
        .into_inner();
    assert_eq!(c.country.map(|c| c.display_name).as_deref(), Some("Iran"));
    server.stop().await;
}
