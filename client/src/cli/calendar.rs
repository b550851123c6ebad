//! `entente find-time` (the slot finder) and `entente calendar ...` (each country's work
//! week and holidays).

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use entente_client::Client;
use entente_client::proto as pb;

use super::output::{enum_name, when};
use super::window::WindowArgs;
use super::{Failure, Out, Res, every_page, usage};

/// A duration as people write it: "45m", "1h30m", "2h".
fn minutes(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration (for example 45m or 1h30m): {e}"))?;
    if d.as_secs() % 60 != 0 || d.subsec_nanos() != 0 {
        return Err(format!("{s:?}: give whole minutes"));
    }
    Ok(d)
}

fn proto_duration(d: Duration) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: 0,
    })
}

/// A constraint a search may soften or drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Constraint {
    /// Working hours.
    Hours,
    /// The country's work week.
    WorkWeek,
    /// The country's holidays.
    Holidays,
    /// Buffers before and after.
    Buffers,
    /// Time to travel from and to neighbouring events.
    Travel,
}

/// `entente find-time` arguments.
#[derive(Debug, Args)]
pub struct FindTimeArgs {
    /// A participant who must attend (repeat for each).
    #[arg(long = "participant", value_name = "ID", required = true)]
    participants: Vec<String>,
    /// A participant who may attend (repeat for each): slots where more can come rank
    /// higher.
    #[arg(long = "optional", value_name = "ID")]
    optional: Vec<String>,
    /// How long: 45m, 1h30m.
    #[arg(long, value_parser = minutes)]
    duration: Duration,
    /// On the sidelines of this event: inside it, at venues in its city.
    #[arg(long, value_name = "EVENT")]
    within: Option<String>,
    #[command(flatten)]
    window: WindowArgs,
    /// A candidate venue (repeat for each).
    #[arg(long = "venue", value_name = "ID")]
    venues: Vec<String>,
    /// Every venue in this city.
    #[arg(long)]
    city: Option<String>,
    /// Working hours where each participant will be (default 09:00-19:00).
    #[arg(long, value_name = "HH:MM-HH:MM")]
    hours: Option<String>,
    /// Keep free before the slot: 30m.
    #[arg(long, value_parser = minutes)]
    buffer_before: Option<Duration>,
    /// Keep free after the slot.
    #[arg(long, value_parser = minutes)]
    buffer_after: Option<Duration>,
    /// Let slots that break this constraint through, ranked lower (repeat).
    #[arg(long, value_enum)]
    soft: Vec<Constraint>,
    /// Do not check this constraint (repeat).
    #[arg(long, value_enum)]
    ignore: Vec<Constraint>,
    /// Candidate starts every: 15m (default).
    #[arg(long, value_parser = minutes)]
    granularity: Option<Duration>,
    /// How many slots (default 10, at most 100).
    #[arg(long)]
    max: Option<i32>,
}

/// Runs `entente find-time`.
pub async fn find_time(client: &Client, out: &Out, tz: &str, a: FindTimeArgs) -> Res {
    let window = a.window.window(tz)?;
    if window.is_none() && a.within.is_none() {
        return Err(usage(
            "say when: --from/--to, or --within an event to search inside it",
        ));
    }
    let strength = |c: Constraint| {
        if a.ignore.contains(&c) {
            pb::ConstraintStrength::Ignore as i32
        } else if a.soft.contains(&c) {
            pb::ConstraintStrength::Soft as i32
        } else {
            pb::ConstraintStrength::Unspecified as i32
        }
    };
    let (start, end) = match &a.hours {
        Some(h) => {
            let (s, e) = h
                .split_once('-')
                .ok_or_else(|| usage(format!("--hours {h:?}: write it as 09:00-19:00")))?;
            (s.trim().to_string(), e.trim().to_string())
        }
        None => Default::default(),
    };
    let constraints = pb::SlotConstraints {
        working_hours: Some(pb::WorkingHours {
            start,
            end,
            strength: strength(Constraint::Hours),
        }),
        work_week: strength(Constraint::WorkWeek),
        holidays: strength(Constraint::Holidays),
        buffer_before: a.buffer_before.and_then(proto_duration),
        buffer_after: a.buffer_after.and_then(proto_duration),
        buffers: strength(Constraint::Buffers),
        travel: strength(Constraint::Travel),
    };
    let participants: Vec<pb::SlotParticipant> = a
        .participants
        .iter()
        .map(|p| (p, false))
        .chain(a.optional.iter().map(|p| (p, true)))
        .map(|(p, optional)| pb::SlotParticipant {
            participant_id: p.clone(),
            optional,
            constraints: None,
        })
        .collect();
    let r = client
        .calendars()
        .find_slots(pb::FindSlotsRequest {
            participants,
            duration: proto_duration(a.duration),
            window,
            venue_ids: a.venues,
            city: a.city.unwrap_or_default(),
            parent_event_id: a.within.unwrap_or_default(),
            constraints: Some(constraints),
            granularity: a.granularity.and_then(proto_duration),
            max_results: a.max.unwrap_or(0),
            view_zone: tz.to_string(),
        })
        .await?
        .into_inner();
    if out.json {
        return Ok(out.json_one(&r, "entente.v1.FindSlotsResponse")?);
    }
    if r.slots.is_empty() {
        out.line(&format!(
            "No slot fits (revision {}): of {} candidates, none meets every hard constraint.",
            r.revision, r.candidates
        ))?;
        for d in &r.diagnostics {
            out.line(&format!("  - {}", d.description))?;
        }
        out.line("Soften a constraint (--soft, --ignore), widen the window or add venues.")?;
        return Ok(());
    }
    let mut header = vec!["#".to_string(), "START".into(), "VENUE".into()];
    header.extend(
        r.slots[0]
            .attendees
            .iter()
            .map(|a| a.participant_id.clone()),
    );
    header.push("SOFT ISSUES".into());
    let rows = r
        .slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut row = vec![(i + 1).to_string(), when(&s.start), s.venue_id.clone()];
            for a in &s.attendees {
                let local = a
                    .local_start
                    .as_ref()
                    .map(|z| {
                        format!(
                            "{} {}",
                            z.local_time.get(11..16).unwrap_or_default(),
                            z.abbreviation
                        )
                    })
                    .unwrap_or_default();
                let status = enum_name(
                    pb::SlotStatus::try_from(a.status)
                        .map(|s| s.as_str_name())
                        .unwrap_or("SLOT_STATUS_UNSPECIFIED"),
                    "SLOT_STATUS_",
                );
                row.push(if status == "free" {
                    local
                } else {
                    format!("{local} ({status})")
                });
            }
            row.push(s.soft_violations.to_string());
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    out.table(&header, rows)?;
    out.line(&format!(
        "{} of {} candidates fit (revision {}; book with --expected-revision {} to be sure \
         nothing changed).",
        r.fitting, r.candidates, r.revision, r.revision
    ))?;
    Ok(())
}

/// `entente calendar`.
#[derive(Debug, Subcommand)]
pub enum CalendarCmd {
    /// A country's work week and holidays (CLDR's work week when none is stored).
    Get {
        /// ISO code.
        country: String,
    },
    /// The stored calendars.
    List,
    /// Set the working days: --days sun,mon,tue,wed,thu (or --cldr for CLDR's).
    SetWeek {
        /// ISO code.
        country: String,
        /// Working days, comma separated: mon,tue,wed,thu,fri.
        #[arg(long, value_delimiter = ',', conflicts_with = "cldr")]
        days: Vec<String>,
        /// Back to CLDR's work week.
        #[arg(long)]
        cldr: bool,
    },
    /// Add a holiday.
    AddHoliday {
        /// ISO code.
        country: String,
        /// The date, 2024-10-24.
        date: String,
        /// Its name.
        name: String,
        /// Not yet announced (lunar): the slot finder counts it as soft.
        #[arg(long)]
        estimated: bool,
    },
    /// Remove the holidays on a date.
    RemoveHoliday {
        /// ISO code.
        country: String,
        /// The date.
        date: String,
    },
    /// Import holidays from an iCalendar (.ics) file: each all-day event is a holiday.
    Import {
        /// ISO code.
        country: String,
        /// The .ics file.
        file: std::path::PathBuf,
        /// Mark every holiday in the file estimated (TENTATIVE events are anyway).
        #[arg(long)]
        estimated: bool,
        /// Replace the holidays of the years the file covers.
        #[arg(long)]
        replace: bool,
    },
    /// Remove a stored calendar: back to CLDR's work week and no holidays.
    Delete {
        /// ISO code.
        country: String,
    },
}

fn weekday(name: &str) -> Result<i32, Failure> {
    let n = match name.trim().to_ascii_lowercase().get(..3) {
        Some("mon") => 1,
        Some("tue") => 2,
        Some("wed") => 3,
        Some("thu") => 4,
        Some("fri") => 5,
        Some("sat") => 6,
        Some("sun") => 7,
        _ => {
            return Err(usage(format!(
                "{name:?} is not a weekday (mon, tue, wed, thu, fri, sat, sun)"
            )));
        }
    };
    Ok(n)
}

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn show(out: &Out, c: &pb::WorkCalendar) -> Res {
    if out.json {
        return Ok(out.json_one(c, "entente.v1.WorkCalendar")?);
    }
    let days: Vec<&str> = c
        .working_days
        .iter()
        .filter_map(|d| DAY_NAMES.get((*d - 1) as usize).copied())
        .collect();
    let source = enum_name(
        pb::WorkWeekSource::try_from(c.work_week_source)
            .map(|s| s.as_str_name())
            .unwrap_or(""),
        "WORK_WEEK_SOURCE_",
    );
    out.fields(&[
        ("country", c.country_code.clone()),
        ("working days", format!("{} ({source})", days.join(" "))),
        ("etag", c.etag.clone()),
    ])?;
    if !c.holidays.is_empty() {
        out.table(
            &["DATE", "HOLIDAY", "STATUS"],
            c.holidays
                .iter()
                .map(|h| {
                    vec![
                        h.date.clone(),
                        h.name.clone(),
                        enum_name(
                            pb::HolidayStatus::try_from(h.status)
                                .map(|s| s.as_str_name())
                                .unwrap_or(""),
                            "HOLIDAY_STATUS_",
                        ),
                    ]
                })
                .collect(),
        )?;
    }
    Ok(())
}

/// Runs a calendar command.
pub async fn calendar(client: &Client, out: &Out, cmd: CalendarCmd) -> Res {
    let mut c = client.calendars();
    let get = |code: String| {
        let mut c = client.calendars();
        async move {
            Ok::<_, Failure>(
                c.get_work_calendar(pb::GetWorkCalendarRequest { country_code: code })
                    .await?
                    .into_inner()
                    .work_calendar
                    .unwrap_or_default(),
            )
        }
    };
    let mask = |path: &str| {
        Some(prost_types::FieldMask {
            paths: vec![path.to_string()],
        })
    };
    let stored = match cmd {
        CalendarCmd::Get { country } => return show(out, &get(country).await?),
        CalendarCmd::List => {
            let all = every_page(|page_token| {
                let mut c = c.clone();
                async move {
                    let r = c
                        .list_work_calendars(pb::ListWorkCalendarsRequest {
                            page_size: 1000,
                            page_token,
                        })
                        .await?
                        .into_inner();
                    Ok((r.work_calendars, r.next_page_token))
                }
            })
            .await?;
            if out.json {
                return Ok(out.json_many(&all, "entente.v1.WorkCalendar")?);
            }
            return Ok(out.table(
                &["COUNTRY", "WORKING DAYS", "HOLIDAYS"],
                all.iter()
                    .map(|c| {
                        vec![
                            c.country_code.clone(),
                            c.working_days
                                .iter()
                                .filter_map(|d| DAY_NAMES.get((*d - 1) as usize).copied())
                                .collect::<Vec<_>>()
                                .join(" "),
                            c.holidays.len().to_string(),
                        ]
                    })
                    .collect(),
            )?);
        }
        CalendarCmd::SetWeek {
            country,
            days,
            cldr,
        } => {
            if days.is_empty() && !cldr {
                return Err(usage("give --days mon,tue,... or --cldr"));
            }
            let working_days = days
                .iter()
                .map(|d| weekday(d))
                .collect::<Result<Vec<_>, _>>()?;
            c.update_work_calendar(pb::UpdateWorkCalendarRequest {
                work_calendar: Some(pb::WorkCalendar {
                    country_code: country,
                    working_days,
                    ..Default::default()
                }),
                update_mask: mask("working_days"),
                ..Default::default()
            })
            .await?
        }
        CalendarCmd::AddHoliday {
            country,
            date,
            name,
            estimated,
        } => {
            // Read, add, write back under the etag read: a concurrent edit is ABORTED,
            // never lost.
            let mut cal = get(country).await?;
            cal.holidays.push(pb::Holiday {
                date,
                name,
                status: if estimated {
                    pb::HolidayStatus::Estimated
                } else {
                    pb::HolidayStatus::Official
                } as i32,
            });
            c.update_work_calendar(pb::UpdateWorkCalendarRequest {
                work_calendar: Some(cal),
                update_mask: mask("holidays"),
                ..Default::default()
            })
            .await?
        }
        CalendarCmd::RemoveHoliday { country, date } => {
            let mut cal = get(country).await?;
            let before = cal.holidays.len();
            cal.holidays.retain(|h| h.date != date);
            if cal.holidays.len() == before {
                return Err(usage(format!("no holiday on {date}")));
            }
            c.update_work_calendar(pb::UpdateWorkCalendarRequest {
                work_calendar: Some(cal),
                update_mask: mask("holidays"),
                ..Default::default()
            })
            .await?
        }
        CalendarCmd::Import {
            country,
            file,
            estimated,
            replace,
        } => {
            let icalendar = std::fs::read_to_string(&file)
                .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
            let r = c
                .import_holidays(pb::ImportHolidaysRequest {
                    country_code: country,
                    icalendar,
                    default_status: if estimated {
                        pb::HolidayStatus::Estimated
                    } else {
                        pb::HolidayStatus::Official
                    } as i32,
                    replace,
                    etag: String::new(),
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_one(&r, "entente.v1.ImportHolidaysResponse")?);
            }
            out.line(&format!("{} holiday(s) imported", r.imported))?;
            for s in &r.skipped {
                out.line(&format!("  skipped: {s}"))?;
            }
            return show(out, &r.work_calendar.unwrap_or_default());
        }
        CalendarCmd::Delete { country } => {
            c.delete_work_calendar(pb::DeleteWorkCalendarRequest {
                country_code: country.clone(),
                etag: String::new(),
                ..Default::default()
            })
            .await?;
            return Ok(out.line(&format!(
                "the working calendar of {country} is CLDR's again, with no holidays"
            ))?);
        }
    };
    show(out, &stored.into_inner().work_calendar.unwrap_or_default())
}
