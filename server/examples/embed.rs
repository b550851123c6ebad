//! Embedding entente in a tokio application: schedule in-process, then serve the very same
//! scheduler over gRPC on a listener the application bound itself.
//!
//! Run with `cargo run -p entente-server --example embed`.

use entente_server::Principal;
use entente_server::directory::{ParticipantInput, VenueInput};
use entente_server::events::WriteOptions;
use entente_server::events::{EventInput, EventKind, EventStatus, TimingInput};
use entente_server::{Scheduler, Settings};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // 1. In-process: no network, the same validation and conflict enforcement as gRPC.
    let scheduler = Scheduler::temporary(Settings::default())?;
    scheduler
        .create_participant(
            &Principal::system(),
            ParticipantInput {
                id: "putin".into(),
                display_name: "Vladimir Putin".into(),
                country_code: "RU".into(),
                home_time_zone: "Europe/Moscow".into(),
                ..Default::default()
            },
        )
        .await?;
    scheduler
        .create_venue(
            &Principal::system(),
            VenueInput {
                id: "kazan-expo".into(),
                display_name: "Kazan Expo".into(),
                city: "Kazan".into(),
                country_code: "RU".into(),
                time_zone: "Europe/Moscow".into(),
                location: None,
                ..Default::default()
            },
        )
        .await?;
    let summit = scheduler
        .create_event(
            &Principal::system(),
            EventInput {
                id: "brics-kazan-2024".into(),
                kind: Some(EventKind::Summit),
                title: "XVI BRICS summit".into(),
                venue_id: "kazan-expo".into(),
                participant_ids: vec!["putin".into()],
                status: Some(EventStatus::Confirmed),
                timing: Some(TimingInput::AllDay {
                    start_date: "2024-10-22".into(),
                    end_date: "2024-10-24".into(),
                    time_zone: String::new(),
                }),
                ..Default::default()
            },
            WriteOptions::default(),
        )
        .await?;
    println!(
        "in-process: {} from {} to {}",
        summit.event.title,
        summit.event.start.rfc9557(),
        summit.event.end.rfc9557()
    );

    // 2. Serve the same scheduler over gRPC on a listener we own, until we say stop.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("serving gRPC on {}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(entente_server::serve_scheduler(
        listener,
        scheduler.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    // ... the application runs; a gRPC client could now read the summit ...
    let _ = stop.send(());
    server.await??;
    Ok(())
}
