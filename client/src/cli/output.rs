//! Printing: aligned tables and key/value blocks for people, canonical proto3 JSON for
//! scripts, colour only on a terminal and never with `NO_COLOR`.

use std::io::{self, IsTerminal, Write};

use comfy_table::{Table, presets};
use entente_client::json::to_json;
use entente_client::proto as pb;
use prost::Message;

/// Where and how results are printed.
#[derive(Debug, Clone)]
pub struct Out {
    /// JSON instead of tables.
    pub json: bool,
    /// The viewer zone, if any.
    pub tz: Option<String>,
    color: bool,
}

impl Out {
    /// From the global flags and the environment.
    pub fn new(json: bool, tz: Option<String>) -> Out {
        let color = !json && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Out { json, tz, color }
    }

    /// One message as a JSON object.
    pub fn json_one(&self, m: &impl Message, full_name: &str) -> io::Result<()> {
        self.json_value(&to_json(m, full_name))
    }

    /// Messages as a JSON array.
    pub fn json_many<M: Message>(&self, items: &[M], full_name: &str) -> io::Result<()> {
        let v: Vec<serde_json::Value> = items.iter().map(|m| to_json(m, full_name)).collect();
        self.json_value(&serde_json::Value::Array(v))
    }

    fn json_value(&self, v: &serde_json::Value) -> io::Result<()> {
        // Rendered first, then written: serde_json would wrap a write error in its own
        // type, and a closed pipe (`entente --output json event list | head -1`) must reach
        // the exit-code mapping as the BrokenPipe it is, which is success.
        let mut text = serde_json::to_vec_pretty(v).map_err(io::Error::other)?;
        text.push(b'\n');
        io::stdout().lock().write_all(&text)
    }

    /// One JSON value on one line (JSON lines, for streams).
    pub fn json_line(&self, v: &serde_json::Value) -> io::Result<()> {
        let mut text = serde_json::to_vec(v).map_err(io::Error::other)?;
        text.push(b'\n');
        let mut out = io::stdout().lock();
        out.write_all(&text)?;
        // A stream's reader wants each line as it happens.
        out.flush()
    }

    /// An aligned table.
    pub fn table(&self, header: &[&str], rows: Vec<Vec<String>>) -> io::Result<()> {
        let mut t = Table::new();
        t.load_preset(presets::NOTHING);
        t.set_header(header.iter().map(|h| h.to_string()));
        for r in rows {
            t.add_row(r);
        }
        // comfy-table pads each cell with one space on each side; trim line ends.
        let text = t.to_string();
        let mut out = io::stdout().lock();
        for line in text.lines() {
            let line = line.trim_end();
            writeln!(out, "{}", line.strip_prefix(' ').unwrap_or(line))?;
        }
        Ok(())
    }

    /// "key: value" lines, keys aligned.
    pub fn fields(&self, pairs: &[(&str, String)]) -> io::Result<()> {
        let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = io::stdout().lock();
        for (k, v) in pairs {
            if !v.is_empty() {
                writeln!(out, "{k:<width$}  {v}")?;
            }
        }
        Ok(())
    }

    /// A plain line.
    pub fn line(&self, text: &str) -> io::Result<()> {
        writeln!(io::stdout().lock(), "{text}")
    }

    /// Red for hard, yellow for soft, when colour is on.
    pub fn severity(&self, c: &pb::Conflict) -> String {
        let (name, code) = match c.severity() {
            pb::ConflictSeverity::Hard => ("HARD", "31"),
            _ => ("SOFT", "33"),
        };
        if self.color {
            format!("\x1b[1;{code}m{name}\x1b[0m")
        } else {
            name.to_string()
        }
    }

    /// Prints conflicts and skipped travel checks, if any.
    pub fn conflicts(
        &self,
        conflicts: &[pb::Conflict],
        skipped: &[pb::TravelCheckSkipped],
    ) -> io::Result<()> {
        if !conflicts.is_empty() {
            self.line("")?;
            self.line(&format!("{} conflict(s):", conflicts.len()))?;
            let rows = conflicts
                .iter()
                .map(|c| {
                    vec![
                        self.severity(c),
                        kind_name(c.kind()),
                        c.other_event_id.clone(),
                        if c.participant_id.is_empty() {
                            c.venue_id.clone()
                        } else {
                            c.participant_id.clone()
                        },
                        c.description.clone(),
                    ]
                })
                .collect();
            self.table(&["SEVERITY", "KIND", "WITH", "WHO/WHERE", "DETAIL"], rows)?;
        }
        for s in skipped {
            self.line(&format!("note: {}", s.reason))?;
        }
        Ok(())
    }
}

fn kind_name(k: pb::ConflictKind) -> String {
    match k {
        pb::ConflictKind::Participant => "participant",
        pb::ConflictKind::Venue => "venue",
        pb::ConflictKind::Travel => "travel",
        pb::ConflictKind::Unspecified => "?",
    }
    .to_string()
}

/// "2024-10-11 11:00 +05 Asia/Ashgabat"; "2024-10-21 06:00 UTC" (no "UTC UTC").
pub fn when(z: &Option<pb::ZonedTime>) -> String {
    match z {
        Some(z) if z.abbreviation == z.time_zone => {
            format!("{} {}", minutes(&z.local_time), z.time_zone)
        }
        Some(z) => format!(
            "{} {} {}",
            minutes(&z.local_time),
            z.abbreviation,
            z.time_zone
        ),
        None => String::new(),
    }
}

/// "2024-10-11 11:00 → 12:30" with the end shortened when on the same day.
pub fn span(start: &Option<pb::ZonedTime>, end: &Option<pb::ZonedTime>) -> String {
    let (Some(s), Some(e)) = (start, end) else {
        return String::new();
    };
    let (ss, es) = (minutes(&s.local_time), minutes(&e.local_time));
    let end = if ss.get(..10) == es.get(..10) {
        es[11..].to_string()
    } else {
        es
    };
    format!("{ss} → {end} {}", s.abbreviation)
}

/// "2024-10-11T11:00:00" -> "2024-10-11 11:00" (seconds only when they are not zero).
fn minutes(local: &str) -> String {
    let t = local.replacen('T', " ", 1);
    t.strip_suffix(":00").map(str::to_string).unwrap_or(t)
}

/// An enum's name without its prefix, lower case: EVENT_KIND_SUMMIT -> summit.
pub fn enum_name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix)
        .unwrap_or(full)
        .to_lowercase()
        .replace('_', "-")
}
