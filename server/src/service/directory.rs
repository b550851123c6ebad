//! The directory's use cases: registering, changing, listing and deleting countries,
//! participants, venues and forums, each authorised inside its write; and who may keep
//! which record ([`Guarded`]).

use crate::audit::method;
use crate::auth::Principal;
use crate::commit::Put;
use crate::directory::*;
use crate::error::{Error, Result};
use crate::policy;
use crate::redact::View;
use crate::scheduler::{Meta, Resource, Scheduler, State};
use crate::validate::{self, PageRequest};

/// Who may change or delete a stored directory record, and how its deletion is audited.
pub trait Guarded: crate::commit::Stored {
    /// The operation that deletes one.
    const DELETE: &'static str;
    /// PERMISSION_DENIED unless `who` may change this record.
    fn require_keeper(&self, who: &Principal) -> Result<()>;
}

impl Guarded for Country {
    const DELETE: &'static str = method::DELETE_COUNTRY;
    fn require_keeper(&self, who: &Principal) -> Result<()> {
        policy::require_admin(who)
    }
}

impl Guarded for Participant {
    const DELETE: &'static str = method::DELETE_PARTICIPANT;
    fn require_keeper(&self, who: &Principal) -> Result<()> {
        policy::require_editor_of(
            who,
            &self.country_code,
            &format!("participant {:?}", self.id),
        )
    }
}

impl Guarded for Venue {
    const DELETE: &'static str = method::DELETE_VENUE;
    fn require_keeper(&self, who: &Principal) -> Result<()> {
        policy::require_editor_of(who, &self.country_code, &format!("venue {:?}", self.id))
    }
}

impl Guarded for Forum {
    const DELETE: &'static str = method::DELETE_FORUM;
    fn require_keeper(&self, who: &Principal) -> Result<()> {
        policy::require_forum_editor(who, &self.id)
    }
}

/// Refuses to delete a resource that events or proposals still name, saying which and
/// what to do: cancelling an event does not free it, since cancelled events stay on record.
/// Records `view`'s principal may not see are counted, never named.
fn in_use(view: View<'_>, kind: &str, id: &str, refs: Referrers) -> Result<()> {
    if refs.events.is_empty() && refs.proposals.is_empty() {
        return Ok(());
    }
    let st = view.state();
    let (events, hidden_events): (Vec<String>, Vec<String>) =
        refs.events.into_iter().partition(|e| view.sees_id(e));
    let (proposals, hidden_proposals): (Vec<String>, Vec<String>) =
        refs.proposals.into_iter().partition(|p| {
            st.proposals
                .get(p)
                .is_none_or(|x| policy::sees_proposal(st, view.who(), x))
        });
    let hidden = hidden_events.len() + hidden_proposals.len();
    let named = |what: &str, ids: &[String]| -> Option<String> {
        const SHOWN: usize = 10;
        let more = if ids.len() > SHOWN { ", …" } else { "" };
        let s = if ids.len() == 1 { "" } else { "s" };
        let list = ids
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        (!ids.is_empty()).then(|| format!("{} {what}{s} ({list}{more})", ids.len()))
    };
    let who = [
        named("event", &events),
        named("proposal", &proposals),
        (hidden > 0).then(|| {
            format!(
                "{hidden} record{} not visible to your office",
                if hidden == 1 { "" } else { "s" }
            )
        }),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and ");
    let mut advice = Vec::new();
    if !events.is_empty() || !hidden_events.is_empty() {
        let change = match kind {
            k if k == Participant::KIND => "take the participant off those events",
            k if k == Venue::KIND => "move those events to another venue",
            k if k == Forum::KIND => "take those events out of the forum",
            _ => "change those events",
        };
        advice.push(format!(
            "{change} first (cancelled events stay on record, so they count too)"
        ));
    }
    if !proposals.is_empty() || !hidden_proposals.is_empty() {
        advice.push("proposals keep what they named for their history, even once ended".into());
    }
    let mut violations: Vec<crate::error::Precondition> = events
        .iter()
        .map(|e| ("events", "event", e))
        .chain(proposals.iter().map(|p| ("proposals", "proposal", p)))
        .map(|(collection, what, r)| crate::error::Precondition {
            kind: "IN_USE".into(),
            subject: format!("{collection}/{r}"),
            description: format!("{what} {r:?} refers to {kind} {id:?}"),
        })
        .collect();
    if hidden > 0 {
        violations.push(crate::error::Precondition {
            kind: "IN_USE".into(),
            subject: crate::redact::HIDDEN_SUBJECT.into(),
            description: format!(
                "{hidden} record{} not visible to your office refer{} to {kind} {id:?}",
                if hidden == 1 { "" } else { "s" },
                if hidden == 1 { "s" } else { "" },
            ),
        });
    }
    let total = events.len() + proposals.len() + hidden;
    Err(Error::FailedPrecondition {
        message: format!(
            "{kind} {id:?} cannot be deleted: {who} {} to it; {}",
            if total == 1 { "refers" } else { "refer" },
            advice.join("; ")
        ),
        violations,
    })
}

impl Scheduler {
    /// Registers a country (ADMIN).
    pub async fn create_country(&self, who: &Principal, input: CountryInput) -> Result<Country> {
        self.write_once(
            who,
            method::CREATE_COUNTRY,
            &input.request_id,
            |st, tx, now| {
                policy::require_admin(who)?;
                let country = validated_country(&input, Meta::new(now))?;
                if st.countries.contains_key(country.code.as_str()) {
                    return Err(Error::AlreadyExists {
                        kind: "country",
                        id: country.code,
                    });
                }
                st.put(tx, country.clone());
                Ok(country)
            },
        )
        .await
    }

    /// Changes a country's display name (ADMIN).
    pub async fn update_country(
        &self,
        who: &Principal,
        input: CountryInput,
        mask: FieldMask,
        etag: String,
    ) -> Result<Country> {
        policy::require_admin(who)?;
        let code = validate::country_code("country.code", &input.code)?;
        self.update_with::<Country>(
            who,
            (method::UPDATE_COUNTRY, &input.request_id),
            &code,
            "country.code",
            etag,
            |old, meta| {
                let merged = CountryInput {
                    code: old.code.clone(),
                    display_name: pick(
                        &mask,
                        "display_name",
                        &input.display_name,
                        &old.display_name,
                    ),
                    request_id: String::new(),
                };
                validated_country(&merged, meta)
            },
        )
        .await
    }

    /// Registers a participant (an editor of their country's office, or ADMIN).
    pub async fn create_participant(
        &self,
        who: &Principal,
        input: ParticipantInput,
    ) -> Result<Participant> {
        self.write_once(
            who,
            method::CREATE_PARTICIPANT,
            &input.request_id,
            |st, tx, now| {
                policy::require_editor_of(
                    who,
                    &input.country_code,
                    "a participant of that country",
                )?;
                let id = st.new_id::<Participant>("participant_id", &input.id, now)?;
                let p = validated_participant(&input, id, Meta::new(now))?;
                st.put(tx, p.clone());
                Ok(p)
            },
        )
        .await
    }

    /// Changes the fields in `mask`. Moving a participant to another country needs an
    /// editor of both offices.
    pub async fn update_participant(
        &self,
        who: &Principal,
        input: ParticipantInput,
        mask: FieldMask,
        etag: String,
    ) -> Result<Participant> {
        let id = input.id.clone();
        self.update_with::<Participant>(
            who,
            (method::UPDATE_PARTICIPANT, &input.request_id),
            &id,
            "participant.id",
            etag,
            |old, meta| {
                if mask.takes("country_code", !input.country_code.is_empty()) {
                    policy::require_editor_of(
                        who,
                        &input.country_code,
                        "a participant of that country",
                    )?;
                }
                let merged = ParticipantInput {
                    id: old.id.clone(),
                    display_name: pick(
                        &mask,
                        "display_name",
                        &input.display_name,
                        &old.display_name,
                    ),
                    role: if mask.takes("role", input.role != Role::Unspecified) {
                        input.role
                    } else {
                        old.role
                    },
                    title: pick(&mask, "title", &input.title, &old.title),
                    country_code: pick(
                        &mask,
                        "country_code",
                        &input.country_code,
                        &old.country_code,
                    ),
                    home_time_zone: pick(
                        &mask,
                        "home_time_zone",
                        &input.home_time_zone,
                        old.home_zone.name(),
                    ),
                    request_id: String::new(),
                };
                validated_participant(&merged, old.id.clone(), meta)
            },
        )
        .await
    }

    /// Registers a venue (an editor of its country's office, or ADMIN).
    pub async fn create_venue(&self, who: &Principal, input: VenueInput) -> Result<Venue> {
        self.write_once(
            who,
            method::CREATE_VENUE,
            &input.request_id,
            |st, tx, now| {
                policy::require_editor_of(who, &input.country_code, "a venue in that country")?;
                let id = st.new_id::<Venue>("venue_id", &input.id, now)?;
                let v = validated_venue(&input, id, Meta::new(now))?;
                st.put(tx, v.clone());
                Ok(v)
            },
        )
        .await
    }

    /// Changes the fields in `mask`. Moving a venue to another zone does not move its
    /// events: their wall times were entered in their own recorded zone.
    pub async fn update_venue(
        &self,
        who: &Principal,
        input: VenueInput,
        mask: FieldMask,
        etag: String,
    ) -> Result<Venue> {
        let id = input.id.clone();
        self.update_with::<Venue>(
            who,
            (method::UPDATE_VENUE, &input.request_id),
            &id,
            "venue.id",
            etag,
            |old, meta| {
                if mask.takes("country_code", !input.country_code.is_empty()) {
                    policy::require_editor_of(who, &input.country_code, "a venue in that country")?;
                }
                let merged = VenueInput {
                    id: old.id.clone(),
                    display_name: pick(
                        &mask,
                        "display_name",
                        &input.display_name,
                        &old.display_name,
                    ),
                    city: pick(&mask, "city", &input.city, &old.city),
                    country_code: pick(
                        &mask,
                        "country_code",
                        &input.country_code,
                        &old.country_code,
                    ),
                    time_zone: pick(&mask, "time_zone", &input.time_zone, old.zone.name()),
                    location: if mask.takes("location", input.location.is_some()) {
                        input.location
                    } else {
                        old.location
                    },
                    request_id: String::new(),
                };
                validated_venue(&merged, old.id.clone(), meta)
            },
        )
        .await
    }

    /// Registers a forum (ADMIN; its secretariat then edits it).
    pub async fn create_forum(&self, who: &Principal, input: ForumInput) -> Result<Forum> {
        self.write_once(
            who,
            method::CREATE_FORUM,
            &input.request_id,
            |st, tx, now| {
                policy::require_admin(who)?;
                let id = st.new_id::<Forum>("forum_id", &input.id, now)?;
                let f = validated_forum(&input, id, Meta::new(now))?;
                st.put(tx, f.clone());
                Ok(f)
            },
        )
        .await
    }

    /// Changes the fields in `mask` (the forum's secretariat, or ADMIN).
    pub async fn update_forum(
        &self,
        who: &Principal,
        input: ForumInput,
        mask: FieldMask,
        etag: String,
    ) -> Result<Forum> {
        let id = input.id.clone();
        self.update_with::<Forum>(
            who,
            (method::UPDATE_FORUM, &input.request_id),
            &id,
            "forum.id",
            etag,
            |old, meta| {
                let merged = ForumInput {
                    id: old.id.clone(),
                    display_name: pick(
                        &mask,
                        "display_name",
                        &input.display_name,
                        &old.display_name,
                    ),
                    description: pick(&mask, "description", &input.description, &old.description),
                    member_country_codes: if mask.takes(
                        "member_country_codes",
                        !input.member_country_codes.is_empty(),
                    ) {
                        input.member_country_codes.clone()
                    } else {
                        old.members.clone()
                    },
                    request_id: String::new(),
                };
                validated_forum(&merged, old.id.clone(), meta)
            },
        )
        .await
    }

    /// The one update path of the directory: read the record (NOT_FOUND naming `field`),
    /// check that `who` keeps it and the etag, build the new version from the old one, store
    /// it.
    async fn update_with<R: Guarded>(
        &self,
        who: &Principal,
        (method, request_id): (&'static str, &str),
        id: &str,
        field: &str,
        etag: String,
        make: impl FnOnce(&R, Meta) -> Result<R>,
    ) -> Result<R> {
        self.write_once(who, method, request_id, |st, tx, now| {
            let old = st.get::<R>(id, field)?;
            old.require_keeper(who)?;
            old.meta().check_etag(&etag, R::KIND, id)?;
            let new = make(old, old.meta().bumped(now))?;
            st.put(tx, new.clone());
            Ok(new)
        })
        .await
    }

    /// [`Scheduler::write`] of one record, idempotent under `request_id` (AIP-155): the
    /// first write remembers the record it left, and a retry within the retention returns
    /// that record and changes nothing.
    pub(crate) async fn write_once<R: crate::commit::Stored>(
        &self,
        who: &Principal,
        method: &'static str,
        request_id: &str,
        f: impl FnOnce(&mut State, &mut crate::commit::Tx, i64) -> Result<R>,
    ) -> Result<R> {
        let retention = self.request_retention_micros();
        self.write(who, method, |st, tx, now| {
            let retry = crate::scheduler::replay(st, who, request_id, method, now - retention)?;
            if let Some(prev) = retry {
                return crate::storage::decode(prev.request_id.as_bytes(), &prev.snapshot);
            }
            let r = f(st, tx, now)?;
            let snapshot = crate::storage::encode(&r);
            crate::scheduler::remember(st, tx, who, request_id, method, r.id(), snapshot, now)?;
            Ok(r)
        })
        .await
    }

    /// Reads one directory resource. The directory is public to every authenticated office.
    pub fn get<R: Resource>(&self, who: &Principal, id: &str) -> Result<R> {
        self.read(who, |view| view.state().get::<R>(id, "id").cloned())
    }

    /// Lists directory resources in id order, keeping those `keep` accepts.
    pub fn list<R: Resource>(
        &self,
        who: &Principal,
        page: &PageRequest,
        keep: impl Fn(&R) -> bool,
    ) -> validate::Page<R> {
        self.read(who, |view| {
            let (items, next_page_token) = validate::page(
                R::map(view.state())
                    .range(page.rest())
                    .filter(|(_, r)| keep(r)),
                page,
            );
            validate::Page {
                items: items.into_iter().cloned().collect(),
                next_page_token,
                revision: view.state().revision,
            }
        })
    }

    /// Deletes a directory resource. Participants, venues and forums that an event or
    /// proposal refers to cannot be deleted (FAILED_PRECONDITION naming those `who` may
    /// see). A retry with the same `request_id` succeeds again (not NOT_FOUND).
    pub async fn delete<R: Guarded>(
        &self,
        who: &Principal,
        id: &str,
        etag: &str,
        request_id: &str,
    ) -> Result<()> {
        let id = id.trim().to_string();
        let (etag, request_id) = (etag.to_string(), request_id.to_string());
        let retention = self.request_retention_micros();
        self.write(who, R::DELETE, move |st, tx, now| {
            let retry = crate::scheduler::replay(st, who, &request_id, R::DELETE, now - retention)?;
            if retry.is_some() {
                return Ok(());
            }
            let r = st.get::<R>(&id, "id")?;
            r.require_keeper(who)?;
            r.meta().check_etag(&etag, R::KIND, &id)?;
            in_use(View::new(st, who), R::KIND, &id, st.referrers(R::KIND, &id))?;
            crate::scheduler::remember(st, tx, who, &request_id, R::DELETE, &id, Vec::new(), now)?;
            st.remove::<R>(tx, &id);
            Ok(())
        })
        .await
    }
}

/// The new value of a string field under a mask.
fn pick(mask: &FieldMask, path: &str, new: &str, old: &str) -> String {
    if mask.takes(path, !new.is_empty()) {
        new
    } else {
        old
    }
    .to_string()
}
