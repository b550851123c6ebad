//! What an event write is checked against in the state, as the caller may see it: the
//! directory records and the parent it names (a parent it may not see does not exist),
//! its fit on its parent's sidelines, and the sidelines a change would strand. Hidden
//! records are counted, never named.

use std::collections::HashSet;

use crate::directory::{Forum, Participant, Venue};
use crate::error::{Error, Result, Violations};
use crate::events::*;
use crate::policy;
use crate::redact::View;
use crate::validate;

/// The parts of an event that refer to the directory and to other events, checked
/// against the state.
pub(crate) struct Checked {
    pub kind: EventKind,
    pub title: Str,
    pub description: String,
    pub venue_id: Str,
    pub host_country: Str,
    pub forum_id: Option<Str>,
    pub participants: Vec<Str>,
    pub parent_id: Option<Str>,
    pub visibility: Visibility,
}

/// Validates the non-time fields of an input against the state as `view`'s principal sees
/// it (a parent it may not see does not exist).
pub(crate) fn check_fields(view: View<'_>, input: &EventInput) -> Result<Checked> {
    let st = view.state();
    let mut v = Violations::default();
    let kind = match input.kind {
        Some(k) => Some(k),
        None => {
            v.add(
                "event.kind",
                "is required (SUMMIT, CONFERENCE, BILATERAL_MEETING, …)",
            );
            None
        }
    };
    // Ids, codes and titles are stored inline (`Str`): checked in place, copied once.
    let title = v.check(validate::name_ref("event.title", &input.title).map(Str::from));
    let description = v.check(validate::text("event.description", &input.description));
    let host = if input.host_country_code.trim().is_empty() {
        None
    } else {
        v.check(validate::country_code(
            "event.host_country_code",
            &input.host_country_code,
        ))
    };
    if input.participant_ids.len() > MAX_PARTICIPANTS {
        v.add(
            "event.participant_ids",
            format!(
                "lists {} participants; at most {MAX_PARTICIPANTS} are allowed",
                input.participant_ids.len()
            ),
        );
    }
    let ids = &input.participant_ids;
    // Usually two or three ids: a scan beats building a hash set; a summit's list is hashed.
    let mut seen = HashSet::new();
    for (i, p) in ids.iter().enumerate() {
        let repeated = if ids.len() <= 16 {
            ids[..i].contains(p)
        } else {
            !seen.insert(p.as_str())
        };
        if repeated {
            v.add(
                format!("event.participant_ids[{i}]"),
                format!("{} is listed twice", validate::shown(p)),
            );
        }
    }
    v.finish()?;
    let (Some(kind), Some(title), Some(description)) = (kind, title, description) else {
        unreachable!("Violations::finish returned Ok with a missing field");
    };

    // References, each NOT_FOUND naming its field.
    let parent_id = non_empty(&input.parent_event_id);
    let parent = match &parent_id {
        Some(id) => Some(policy::visible_event(
            st,
            view.who(),
            id,
            "event.parent_event_id",
        )?),
        None => None,
    };
    let venue_id = match (non_empty(&input.venue_id), parent) {
        (Some(v), _) => v,
        (None, Some(p)) => p.venue_id.clone(),
        (None, None) => return Err(Error::invalid("event.venue_id", "is required")),
    };
    let venue = st.get::<Venue>(&venue_id, "event.venue_id")?;
    for (i, p) in input.participant_ids.iter().enumerate() {
        st.get_at::<Participant>(p, || format!("event.participant_ids[{i}]"))?;
    }
    let forum_id = non_empty(&input.forum_id);
    if let Some(f) = &forum_id {
        st.get::<Forum>(f, "event.forum_id")?;
    }
    Ok(Checked {
        kind,
        title,
        description,
        host_country: host.map_or_else(|| venue.country_code.as_str().into(), Str::from),
        venue_id,
        forum_id,
        participants: input.participant_ids.iter().map(Str::from).collect(),
        parent_id,
        visibility: input.visibility.unwrap_or_default(),
    })
}

fn non_empty(s: &str) -> Option<Str> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.into())
}

/// Checks that `event` may sit on the sidelines of its parent: the parent exists, is not
/// cancelled, is not the event itself or one of its sidelines, spans it, and is in the
/// same city. Errors name the parent only if `view`'s principal may see it (an event it
/// edits may hang under a parent it cannot see).
pub(crate) fn check_sidelines(view: View<'_>, event: &Event) -> Result<()> {
    let st = view.state();
    let Some(parent_id) = &event.parent_id else {
        return Ok(());
    };
    if *parent_id == event.id
        || st
            .events
            .descendants(&event.id)
            .iter()
            .any(|d| d == parent_id)
    {
        return Err(Error::invalid(
            "event.parent_event_id",
            format!("{parent_id:?} is this event or one of its own sidelines events"),
        ));
    }
    let parent = st
        .events
        .get(parent_id)
        .ok_or_else(|| Error::not_found("event", parent_id.as_str(), "event.parent_event_id"))?;
    let subject = view.subject(parent);
    let name = view.mention(parent);
    if !parent.is_live() && event.is_live() {
        return Err(Error::precondition(
            "SIDELINES_PARENT_CANCELLED",
            subject,
            format!("{name} is cancelled; nothing new can be held on its sidelines"),
        ));
    }
    if event.start.utc < parent.start.utc || event.end.utc > parent.end.utc {
        let zone = parent.zone();
        let span = if view.sees(parent) {
            format!(" ({} to {})", parent.start.rfc9557(), parent.end.rfc9557())
        } else {
            String::new()
        };
        return Err(Error::precondition(
            "SIDELINES_OUTSIDE_PARENT",
            subject,
            format!(
                "an event on the sidelines of {name} must lie within it{span}, but this one \
                 runs from {} to {}",
                event.start.in_zone(zone).rfc9557(),
                event.end.in_zone(zone).rfc9557()
            ),
        ));
    }
    let (Ok(pv), Ok(ev)) = (
        st.get::<Venue>(&parent.venue_id, "event.parent_event_id"),
        st.get::<Venue>(&event.venue_id, "event.venue_id"),
    ) else {
        return Ok(());
    };
    if !same_city(pv, ev) {
        let city = if view.sees(parent) {
            format!(" in {} ({})", pv.city, pv.country_code)
        } else {
            " in its city".to_string()
        };
        return Err(Error::precondition(
            "SIDELINES_OTHER_CITY",
            subject,
            format!(
                "an event on the sidelines of {name} must be{city}, but venue {:?} is in {} ({})",
                ev.display_name, ev.city, ev.country_code
            ),
        ));
    }
    Ok(())
}

/// Checks that moving, re-venuing or cancelling `event` does not strand its sidelines
/// events: each live child must still fit inside it and be in its city. Children that
/// `view`'s principal may not see are counted, never named.
pub(crate) fn check_children_fit(view: View<'_>, event: &Event) -> Result<()> {
    let st = view.state();
    let mut stranded = Vec::new();
    let venue = st.get::<Venue>(&event.venue_id, "event.venue_id")?;
    for child_id in st.events.children(&event.id) {
        let Some(child) = st.events.get(&child_id) else {
            continue;
        };
        if !child.is_live() {
            continue;
        }
        let inside = child.start.utc >= event.start.utc && child.end.utc <= event.end.utc;
        let city = st
            .get::<Venue>(&child.venue_id, "event.venue_id")
            .map(|cv| same_city(cv, venue))
            .unwrap_or(true);
        if !inside || !city {
            stranded.push((view.mention(child), view.subject(child), inside));
        }
    }
    if stranded.is_empty() {
        return Ok(());
    }
    Err(Error::FailedPrecondition {
        message: format!(
            "this change would strand {} event(s) on the sidelines of {:?} ({}); move or \
             cancel them first",
            stranded.len(),
            event.title,
            stranded
                .iter()
                .map(|s| s.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        violations: stranded
            .into_iter()
            .map(|(name, subject, inside)| crate::error::Precondition {
                kind: "SIDELINES_STRANDED".into(),
                subject,
                description: if inside {
                    format!("{name} would no longer be in the same city")
                } else {
                    format!("{name} would no longer lie within the event")
                },
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_listed_twice_is_named_in_short_and_long_lists() {
        let st = crate::state::State::default();
        let system = crate::auth::Principal::system();
        for n in [3, 40] {
            let mut ids: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
            ids.push("p1".into());
            let input = EventInput {
                kind: Some(EventKind::Summit),
                title: "Summit".into(),
                participant_ids: ids,
                ..Default::default()
            };
            let err = check_fields(View::new(&st, &system), &input)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains(&format!("event.participant_ids[{n}]"))
                    && err.contains("listed twice"),
                "{n} ids: {err}"
            );
        }
    }
}
