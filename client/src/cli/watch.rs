//! `entente watch`: follow the change feed, one line per change, until interrupted.

use clap::{Args, ValueEnum};
use entente_client::proto as pb;
use entente_client::{Client, timearg};
use tonic::Code;
use tonic_types::StatusExt;

use super::output::{enum_name, when};
use super::{Failure, Out, Res, usage};

/// Kinds of record, for `--kind`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// Countries.
    Country,
    /// Participants.
    Participant,
    /// Venues.
    Venue,
    /// Forums.
    Forum,
    /// Events.
    Event,
    /// Proposals.
    Proposal,
    /// Working calendars.
    WorkCalendar,
}

impl Kind {
    fn proto(self) -> pb::ResourceKind {
        match self {
            Kind::Country => pb::ResourceKind::Country,
            Kind::Participant => pb::ResourceKind::Participant,
            Kind::Venue => pb::ResourceKind::Venue,
            Kind::Forum => pb::ResourceKind::Forum,
            Kind::Event => pb::ResourceKind::Event,
            Kind::Proposal => pb::ResourceKind::Proposal,
            Kind::WorkCalendar => pb::ResourceKind::WorkCalendar,
        }
    }
}

/// `entente watch` arguments.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Start after this revision (a list's `revision`, or the last one printed); default:
    /// from now.
    #[arg(long, conflicts_with = "from_start")]
    after: Option<i64>,
    /// Start from the oldest change the server keeps.
    #[arg(long)]
    from_start: bool,
    /// Only these kinds (repeat).
    #[arg(long = "kind", value_enum)]
    kinds: Vec<Kind>,
    /// Only events this participant takes part in, proposals they are a party to, and the
    /// participant.
    #[arg(long)]
    participant: Option<String>,
    /// Only events at this venue, and the venue.
    #[arg(long)]
    venue: Option<String>,
    /// Only events of this forum, and the forum.
    #[arg(long)]
    forum: Option<String>,
    /// Only events on the sidelines of this event (and the event).
    #[arg(long)]
    sidelines: Option<String>,
    /// Only events overlapping a window starting here (or a date range such as
    /// 2024-10-01..2024-10-31).
    #[arg(long)]
    from: Option<String>,
    /// The window's end.
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Zone of --from/--to when they are local (default UTC).
    #[arg(long)]
    zone: Option<String>,
    /// Print progress messages too ("everything up to revision R has been sent").
    #[arg(long)]
    progress: bool,
}

/// The record's title or name, for the table.
fn label(r: &Option<pb::Resource>) -> String {
    use pb::resource::Resource as R;
    match r.as_ref().and_then(|r| r.resource.as_ref()) {
        Some(R::Event(e)) => format!("{} ({})", e.title, when(&e.start)),
        Some(R::Proposal(p)) => p.title.clone(),
        Some(R::Participant(p)) => p.display_name.clone(),
        Some(R::Venue(v)) => format!("{} ({})", v.display_name, v.city),
        Some(R::Forum(f)) => f.display_name.clone(),
        Some(R::Country(c)) => c.display_name.clone(),
        Some(R::WorkCalendar(c)) => format!("working calendar of {}", c.country_code),
        Some(R::CalendarFeed(f)) => format!("calendar feed {}", f.id),
        None => String::new(),
    }
}

/// Runs `entente watch` until interrupted (or until the output is closed). A watch ended
/// for falling behind resumes by itself from its last revision.
pub async fn watch(client: &Client, out: &Out, tz: &str, a: WatchArgs) -> Res {
    let window = match &a.from {
        Some(from) => {
            timearg::window(Some(from), a.to.as_deref(), a.zone.as_deref()).map_err(usage)?
        }
        None => None,
    };
    let filter = pb::ChangeFilter {
        kinds: a.kinds.iter().map(|k| k.proto() as i32).collect(),
        participant_id: a.participant.clone().unwrap_or_default(),
        venue_id: a.venue.clone().unwrap_or_default(),
        forum_id: a.forum.clone().unwrap_or_default(),
        parent_event_id: a.sidelines.clone().unwrap_or_default(),
        window,
    };
    let mut after = a.after;
    let mut from_now = after.is_none() && !a.from_start;
    loop {
        let mut stream = client
            .watch(pb::WatchChangesRequest {
                after_revision: after.unwrap_or(0),
                from_now,
                filter: Some(filter.clone()),
                include_before: false,
                view_zone: tz.to_string(),
            })
            .await?;
        loop {
            let m = match stream.message().await {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(()),
                Err(e) if e.code() == Code::ResourceExhausted => {
                    // Fell behind: resume from the last revision received in full.
                    let last = e
                        .get_details_error_info()
                        .and_then(|i| i.metadata.get("last_revision").cloned())
                        .and_then(|r| r.parse().ok());
                    match last {
                        Some(r) => {
                            eprintln!("entente: fell behind the feed; resuming after revision {r}");
                            after = Some(r);
                            from_now = false;
                            break;
                        }
                        None => return Err(Failure::Status(e)),
                    }
                }
                Err(e) => return Err(Failure::Status(e)),
            };
            match m.message {
                Some(pb::watch_changes_response::Message::Batch(b)) => {
                    after = Some(b.revision);
                    print_batch(out, &b)?;
                }
                Some(pb::watch_changes_response::Message::Progress(p)) => {
                    after = Some(after.unwrap_or(0).max(p.revision));
                    if a.progress {
                        if out.json {
                            out.json_line(
                                &serde_json::json!({ "progress": p.revision.to_string() }),
                            )?;
                        } else {
                            out.line(&format!("{}  (progress)", p.revision))?;
                        }
                    }
                }
                None => {}
            }
        }
    }
}

fn print_batch(out: &Out, b: &pb::ChangeBatch) -> Res {
    for c in &b.changes {
        if out.json {
            out.json_line(&serde_json::json!({
                "revision": b.revision.to_string(),
                "commitTime": b.commit_time.map(|t| t.to_string()),
                "office": b.office,
                "tokenName": b.token_name,
                "method": b.method,
                "change": entente_client::json::to_json(c, "entente.v1.Change"),
            }))?;
        } else {
            out.line(&format!(
                "{}  {}  {}  {} {}  {}{}",
                b.revision,
                b.commit_time.map(|t| t.to_string()).unwrap_or_default(),
                if b.office.is_empty() {
                    "-"
                } else {
                    b.office.as_str()
                },
                enum_name(c.r#type().as_str_name(), "CHANGE_TYPE_"),
                enum_name(c.kind().as_str_name(), "RESOURCE_KIND_"),
                c.id,
                match label(&c.resource) {
                    l if l.is_empty() => String::new(),
                    l => format!("  {l}"),
                },
            ))?;
        }
    }
    Ok(())
}
