//! Who may see and change what: the access rules over the state.
//!
//! Every rule takes the state it decides on and an explicit [`Principal`]. The scheduler
//! calls them inside the same atomic step that reads and writes (under the write lock for a
//! write), so a decision is never taken on a snapshot that a concurrent write has made
//! stale.
//!
//! Visibility of an event or proposal: PUBLIC, every authenticated office; PARTIES, the
//! offices of the countries taking part, the host, the forum's secretariat and the owner;
//! PRIVATE, the owner only. ADMIN sees everything. What an office may not see does not
//! exist for it: NOT_FOUND, exactly as for an id nobody has used.
//!
//! Writes need EDITOR on an office that owns or takes part; a country's office edits its own
//! participants and venues; a forum's secretariat edits its forum; countries, new forums and
//! `RecomputeInstants` need ADMIN. A participant's attendance is answered by their own
//! office, by ADMIN, or by a forum's secretariat for that forum's events when the
//! participant's office delegated it (`attendance_delegates`).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::auth::Principal;
use crate::directory::Participant;
use crate::error::{Error, Result};
use crate::events::{Event, Visibility};
use crate::proposals::{Party, Proposal};
use crate::state::State;

/// The parties of an event or proposal, as offices.
#[derive(Debug, Clone, Default)]
pub struct Parties {
    /// Countries taking part (participants' countries, the host, country parties).
    pub countries: BTreeSet<String>,
    /// The forum, whose secretariat is a party.
    pub forum: Option<String>,
    /// The owning office.
    pub owner: String,
}

impl Parties {
    /// Whether `p`'s office is one of them.
    pub fn includes(&self, p: &Principal) -> bool {
        (!p.office.is_empty() && (self.owner == p.office || self.countries.contains(&p.office)))
            || self
                .forum
                .as_ref()
                .is_some_and(|f| p.secretariat_of.contains(f))
    }
}

/// Whether `p` may see something with this visibility and these parties.
pub fn can_see(p: &Principal, visibility: Visibility, parties: &Parties) -> bool {
    p.is_admin()
        || (!p.office.is_empty() && parties.owner == p.office)
        || match visibility {
            Visibility::Public => true,
            Visibility::Parties => parties.includes(p),
            Visibility::Private => false,
        }
}

/// The country of a participant, if they exist.
fn country_of<'a>(st: &'a State, participant: &str) -> Option<&'a str> {
    st.participants
        .get(participant)
        .map(|p: &Participant| p.country_code.as_str())
}

/// The parties of an event.
pub fn event_parties(st: &State, e: &Event) -> Parties {
    let mut countries: BTreeSet<String> = e
        .participants
        .iter()
        .filter_map(|p| country_of(st, p).map(str::to_string))
        .collect();
    countries.insert(e.host_country.to_string());
    Parties {
        countries,
        forum: e.forum_id.as_deref().map(str::to_string),
        owner: e.owner_office.to_string(),
    }
}

/// Whether `who` may see event `e`.
pub fn sees_event(st: &State, who: &Principal, e: &Event) -> bool {
    // Administrators first: every call of a server without access control is one, and
    // this is on the path of every listed event and every conflict.
    who.is_admin()
        || (!who.office.is_empty() && e.owner_office == who.office)
        || match e.visibility {
            Visibility::Public => true,
            Visibility::Private => false,
            Visibility::Parties => event_parties(st, e).includes(who),
        }
}

/// The event `id` if `who` may see it; NOT_FOUND naming `field` otherwise, exactly as for
/// an id that does not exist.
pub fn visible_event<'a>(
    st: &'a State,
    who: &Principal,
    id: &str,
    field: &str,
) -> Result<&'a Arc<Event>> {
    st.events
        .get(id)
        .filter(|e| sees_event(st, who, e))
        .ok_or_else(|| Error::not_found("event", id, field))
}

/// PERMISSION_DENIED unless `who` may write at all.
pub fn require_writer(who: &Principal) -> Result<()> {
    if who.can_write() {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "token {:?} of office {:?} may only read",
            who.token, who.office
        )))
    }
}

/// PERMISSION_DENIED unless `who` is an administrator.
pub fn require_admin(who: &Principal) -> Result<()> {
    if who.is_admin() {
        Ok(())
    } else {
        Err(Error::PermissionDenied("this needs an ADMIN token".into()))
    }
}

/// PERMISSION_DENIED unless `who` is an administrator or an editor of `office`.
pub fn require_editor_of(who: &Principal, office: &str, what: &str) -> Result<()> {
    require_writer(who)?;
    if who.is_admin() || (!who.office.is_empty() && who.office.eq_ignore_ascii_case(office.trim()))
    {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "office {:?} may not change {what}, which belongs to {}",
            who.office,
            crate::validate::shown(office)
        )))
    }
}

/// PERMISSION_DENIED unless `who` is an administrator or an editor of the forum's
/// secretariat.
pub fn require_forum_editor(who: &Principal, forum: &str) -> Result<()> {
    require_writer(who)?;
    if who.is_admin() || who.secretariat_of.contains(forum) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "office {:?} is not the secretariat of forum {}",
            who.office,
            crate::validate::shown(forum)
        )))
    }
}

/// PERMISSION_DENIED unless `who` may change the stored event `e` (which it can see).
pub fn require_change_event(st: &State, who: &Principal, e: &Event) -> Result<()> {
    require_writer(who)?;
    if who.is_admin() || event_parties(st, e).includes(who) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "office {:?} neither owns nor takes part in event {:?}",
            who.office, e.id
        )))
    }
}

/// PERMISSION_DENIED unless `who` takes part in, hosts, or runs the forum of the event it
/// is about to create.
pub fn require_create_event(st: &State, who: &Principal, e: &Event) -> Result<()> {
    require_writer(who)?;
    // Administrators first: every booking of a server without access control is one, and
    // the parties cost a set of country codes to build.
    if who.is_admin() {
        return Ok(());
    }
    let parties = Parties {
        owner: String::new(),
        ..event_parties(st, e)
    };
    if parties.includes(who) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "office {:?} neither hosts nor takes part in this event",
            who.office
        )))
    }
}

/// Whether `who` answers for `participant`'s attendance at `e`: their own office, an
/// administrator, or the secretariat of `e`'s forum when the participant's office
/// delegated it.
pub fn answers_for(st: &State, who: &Principal, e: &Event, participant: &str) -> bool {
    if who.is_admin() {
        return true;
    }
    if !who.can_write() || who.office.is_empty() {
        return false;
    }
    let Some(country) = country_of(st, participant) else {
        return false;
    };
    who.office == country
        || (who.answers_for.contains(country)
            && e.forum_id
                .as_ref()
                .is_some_and(|f| who.secretariat_of.contains(f.as_str())))
}

/// The offices of proposal parties: a country party is its own office, a participant
/// party their country's; plus the owner.
pub fn party_offices<'a>(
    st: &State,
    parties: impl IntoIterator<Item = &'a Party>,
    owner: &str,
) -> Parties {
    let mut countries = BTreeSet::new();
    for party in parties {
        match party {
            Party::Country(c) => {
                countries.insert(c.trim().to_ascii_uppercase());
            }
            Party::Participant(id) => countries.extend(country_of(st, id).map(str::to_string)),
        }
    }
    Parties {
        countries,
        forum: None,
        owner: owner.to_string(),
    }
}

/// The parties of a proposal: the proposer's and recipient's offices, and the owner.
pub fn proposal_parties(st: &State, p: &Proposal) -> Parties {
    party_offices(st, [&p.proposer, &p.recipient], &p.owner_office)
}

/// Whether `who` may see proposal `p`.
pub fn sees_proposal(st: &State, who: &Principal, p: &Proposal) -> bool {
    who.is_admin() || can_see(who, p.visibility, &proposal_parties(st, p))
}

/// PERMISSION_DENIED unless `who` is a party to the proposal it can see.
pub fn require_change_proposal(st: &State, who: &Principal, p: &Proposal) -> Result<()> {
    require_writer(who)?;
    if who.is_admin() || proposal_parties(st, p).includes(who) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "office {:?} is not a party to proposal {:?}",
            who.office, p.id
        )))
    }
}

/// PERMISSION_DENIED unless `who` is the proposer's or recipient's office.
pub fn require_create_proposal(st: &State, who: &Principal, parties: [&Party; 2]) -> Result<()> {
    require_writer(who)?;
    if who.is_admin() || party_offices(st, parties, "").includes(who) {
        Ok(())
    } else {
        Err(Error::PermissionDenied(format!(
            "office {:?} is neither the proposer nor the recipient",
            who.office
        )))
    }
}
