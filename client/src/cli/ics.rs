//! `entente export`, `entente import` and `entente feed`: iCalendar for Outlook and Google.

use std::io::Write;

use clap::{Args, Subcommand};
use entente_client::Client;
use entente_client::proto as pb;

use super::output::{Out, enum_name};
use super::window::WindowArgs;
use super::{Failure, Res};

/// Which events (at most one; none: everything your office may see).
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// A participant's agenda.
    #[arg(long, value_name = "ID", group = "scope")]
    participant: Option<String>,
    /// A venue's events.
    #[arg(long, value_name = "ID", group = "scope")]
    venue: Option<String>,
    /// A forum's events.
    #[arg(long, value_name = "ID", group = "scope")]
    forum: Option<String>,
    /// A summit's programme: the event and everything on its sidelines.
    #[arg(long, value_name = "EVENT", group = "scope")]
    programme: Option<String>,
}

impl ScopeArgs {
    fn scope(self) -> pb::CalendarScope {
        pb::CalendarScope {
            participant_id: self.participant.unwrap_or_default(),
            venue_id: self.venue.unwrap_or_default(),
            forum_id: self.forum.unwrap_or_default(),
            parent_event_id: self.programme.unwrap_or_default(),
        }
    }
}

/// `entente export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    #[command(flatten)]
    window: WindowArgs,
    /// UTC instants instead of zoned times, for calendar apps that cannot read time zones.
    #[arg(long)]
    utc: bool,
    /// Include cancelled events (STATUS:CANCELLED), so a calendar that has them removes them.
    #[arg(long)]
    include_cancelled: bool,
}

/// `entente import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The .ics file.
    file: std::path::PathBuf,
    /// Say what would happen; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Import the events as confirmed (default: new ones tentative, those imported before
    /// keep their status).
    #[arg(long)]
    confirmed: bool,
    /// Zone of floating times (no TZID, no Z).
    #[arg(long, value_name = "ZONE")]
    default_zone: Option<String>,
    /// Venue for events without a known LOCATION.
    #[arg(long, value_name = "ID")]
    venue: Option<String>,
    /// LOCATION text to venue id: --map-venue "Kazan Expo Hall A=kazan-expo".
    #[arg(long, value_name = "TEXT=ID")]
    map_venue: Vec<String>,
    /// Attendee (name or e-mail) to participant id: --map-participant
    /// "v.putin@kremlin.example=putin"; "=" with no id leaves the attendee out.
    #[arg(long, value_name = "WHO=ID")]
    map_participant: Vec<String>,
    /// Write over hard conflicts (recorded on each event).
    #[arg(long)]
    allow_conflicts: bool,
    /// How to read a wall time its zone repeats or skips (default: RFC 5545's rule, a
    /// repeated time is the first occurrence and a skipped one moves forward).
    #[arg(long, value_enum)]
    disambiguation: Option<super::events::Disambiguation>,
}

/// `entente feed`.
#[derive(Debug, Subcommand)]
pub enum FeedCmd {
    /// Create a subscription URL for Outlook or Google Calendar (shown once).
    Create {
        #[command(flatten)]
        scope: ScopeArgs,
        /// A name for your own use (also the calendar's name in the app).
        #[arg(long)]
        name: Option<String>,
        /// Days before today it covers (default: every past event).
        #[arg(long)]
        past_days: Option<i32>,
        /// Days after today it covers (default: every future event).
        #[arg(long)]
        future_days: Option<i32>,
        /// UTC instants instead of zoned times.
        #[arg(long)]
        utc: bool,
        /// The server's public address, to print the whole URL (default: --server).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
    /// Your office's feeds.
    List,
    /// Revoke a feed: its URL answers 404 from now on.
    Delete {
        /// The feed's id.
        id: String,
    },
}

fn pairs(flag: &str, v: &[String]) -> Result<std::collections::HashMap<String, String>, Failure> {
    v.iter()
        .map(|p| {
            p.rsplit_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| Failure::Usage(format!("{flag} takes TEXT=ID, not {p:?}")))
        })
        .collect()
}

/// `entente export`: the calendar on stdout.
pub async fn export(client: &Client, out: &Out, tz: &str, a: ExportArgs) -> Res {
    let window = a.window.window(tz)?;
    let r = client
        .ics()
        .export_calendar(pb::ExportCalendarRequest {
            scope: Some(a.scope.scope()),
            window,
            utc_times: a.utc,
            include_cancelled: a.include_cancelled,
        })
        .await?
        .into_inner();
    if out.json {
        return Ok(out.json_one(&r, "entente.v1.ExportCalendarResponse")?);
    }
    std::io::stdout().lock().write_all(r.ics.as_bytes())?;
    Ok(())
}

/// `entente import`: one line per VEVENT.
pub async fn import(client: &Client, out: &Out, a: ImportArgs) -> Res {
    let ics = std::fs::read_to_string(&a.file)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", a.file.display())))?;
    let r = client
        .ics()
        .import_calendar(pb::ImportCalendarRequest {
            ics,
            dry_run: a.dry_run,
            status: if a.confirmed {
                pb::EventStatus::Confirmed
            } else {
                pb::EventStatus::Unspecified
            } as i32,
            default_time_zone: a.default_zone.unwrap_or_default(),
            venue_map: pairs("--map-venue", &a.map_venue)?,
            default_venue_id: a.venue.unwrap_or_default(),
            participant_map: pairs("--map-participant", &a.map_participant)?,
            allow_conflicts: a.allow_conflicts,
            disambiguation: super::events::disamb(a.disambiguation),
            ..Default::default()
        })
        .await?
        .into_inner();
    if out.json {
        return Ok(out.json_one(&r, "entente.v1.ImportCalendarResponse")?);
    }
    let outcome = |o: i32| {
        enum_name(
            pb::ImportOutcome::try_from(o)
                .map(|o| o.as_str_name())
                .unwrap_or("IMPORT_OUTCOME_UNSPECIFIED"),
            "IMPORT_OUTCOME_",
        )
    };
    let rows = r
        .results
        .iter()
        .map(|x| {
            let mut why = x.reason.clone();
            for c in &x.conflicts {
                if !why.is_empty() {
                    why.push_str("; ");
                }
                why.push_str(&c.description);
            }
            vec![
                outcome(x.outcome),
                x.event_id.clone(),
                x.summary.clone(),
                why,
            ]
        })
        .collect();
    out.table(&["OUTCOME", "EVENT", "SUMMARY", "WHY / CONFLICTS"], rows)?;
    let refused = r
        .results
        .iter()
        .filter(|x| x.outcome == pb::ImportOutcome::Refused as i32)
        .count();
    out.line(&format!(
        "{} VEVENT(s){}; {refused} refused.",
        r.results.len(),
        if a.dry_run {
            " checked, nothing written (dry run)"
        } else {
            ""
        }
    ))?;
    Ok(())
}

/// `entente feed`.
pub async fn feed(client: &Client, out: &Out, server: &str, c: FeedCmd) -> Res {
    let mut ics = client.ics();
    match c {
        FeedCmd::Create {
            scope,
            name,
            past_days,
            future_days,
            utc,
            base_url,
        } => {
            let f = ics
                .create_calendar_feed(pb::CreateCalendarFeedRequest {
                    feed: Some(pb::CalendarFeed {
                        display_name: name.unwrap_or_default(),
                        scope: Some(scope.scope()),
                        past_days: past_days.unwrap_or(0),
                        future_days: future_days.unwrap_or(0),
                        utc_times: utc,
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&f, "entente.v1.CreateCalendarFeedResponse")?);
            }
            let feed = f.feed.unwrap_or_default();
            let base = base_url.unwrap_or_else(|| server.to_string());
            out.line(&format!("{}{}", base.trim_end_matches('/'), feed.path))?;
            out.line(&format!(
                "feed {}: subscribe to this URL in Outlook or Google Calendar (\"From URL\"); \
                 it is shown only now. Revoke it with: entente feed delete {}",
                feed.id, feed.id
            ))?;
            Ok(())
        }
        FeedCmd::List => {
            let r = ics
                .list_calendar_feeds(pb::ListCalendarFeedsRequest {})
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.ListCalendarFeedsResponse")?);
            }
            let rows = r
                .feeds
                .iter()
                .map(|f| {
                    let s = f.scope.clone().unwrap_or_default();
                    let scope = [
                        ("participant", &s.participant_id),
                        ("venue", &s.venue_id),
                        ("forum", &s.forum_id),
                        ("programme", &s.parent_event_id),
                    ]
                    .iter()
                    .find(|(_, v)| !v.is_empty())
                    .map_or("everything".to_string(), |(k, v)| format!("{k} {v}"));
                    vec![
                        f.id.clone(),
                        f.display_name.clone(),
                        scope,
                        match (f.past_days, f.future_days) {
                            (0, 0) => "all".to_string(),
                            (p, 0) => format!("-{p}d.."),
                            (0, n) => format!("..+{n}d"),
                            (p, n) => format!("-{p}d..+{n}d"),
                        },
                    ]
                })
                .collect();
            Ok(out.table(&["ID", "NAME", "SCOPE", "DAYS"], rows)?)
        }
        FeedCmd::Delete { id } => {
            ics.delete_calendar_feed(pb::DeleteCalendarFeedRequest {
                id: id.clone(),
                ..Default::default()
            })
            .await?;
            Ok(out.line(&format!("feed {id} revoked"))?)
        }
    }
}
