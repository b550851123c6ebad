//! Who is calling: tokens, offices and roles, read from the access file.
//!
//! Access is configured in a TOML file: **offices** (a country, by ISO code, or an
//! organisation such as a summit secretariat, which names the forums it runs) and
//! **tokens** (stored as SHA-256 hex digests, never in clear), each belonging to an office
//! with a role: READER, EDITOR or ADMIN. ADMIN is the server's administrator: it sees and
//! may change everything and reads the audit log.
//!
//! ```toml
//! [[offices]]
//! id = "brics-secretariat"
//! secretariat_of = ["brics"]
//!
//! [[offices]]
//! id = "RU"
//! attendance_delegates = ["brics-secretariat"]  # may confirm RU's people for BRICS events
//!
//! [[tokens]]
//! name = "ru-protocol"
//! sha256 = "…64 hex digits…"   # printf %s "$TOKEN" | sha256sum
//! office = "RU"
//! role = "EDITOR"
//! ```
//!
//! The caller is always an explicit [`Principal`], handed to every `Scheduler` operation:
//! there is no ambient caller and no default. The gRPC layer authenticates each call and
//! passes its principal on; an embedder passes [`Principal::system`] on purpose. What a
//! principal may see and change is decided in `policy`, under the same lock as the write.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    /// Read what its office may see.
    Reader,
    /// Also write where its office owns or takes part.
    Editor,
    /// Everything, everywhere; reads the audit log.
    Admin,
}

/// Who is calling: an office, the name of the token it used, and that token's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The office: an ISO country code ("RU") or an organisation id.
    pub office: String,
    /// The token's name (never its secret).
    pub token: String,
    /// Its role.
    pub role: Role,
    /// Forums this office is the secretariat of.
    pub secretariat_of: BTreeSet<String>,
    /// Offices that let this one answer for their participants' attendance at events of
    /// the forums it runs (`attendance_delegates` in the access file).
    pub answers_for: BTreeSet<String>,
    /// Which configured token this is, as [`credential`] of its digest; empty for a
    /// principal no token stands behind (access control off, embedders, the system).
    /// What a caller creates that outlives the call (a calendar feed) records it, and
    /// stops working once no configured, unexpired token has it.
    pub credential: String,
}

impl Principal {
    /// The caller of every call when access control is off: an administrator with no
    /// office. Only the gRPC layer hands it out, and only when no token is configured.
    pub fn anonymous() -> Principal {
        Principal::admin_named("anonymous")
    }

    /// The scheduler's own hand: embedders that trust their code pass it on purpose, and
    /// the server uses it for its own housekeeping (the expiry sweep). An administrator.
    pub fn system() -> Principal {
        Principal::admin_named("system")
    }

    fn admin_named(token: &str) -> Principal {
        Principal {
            office: String::new(),
            token: token.into(),
            role: Role::Admin,
            secretariat_of: BTreeSet::new(),
            answers_for: BTreeSet::new(),
            credential: String::new(),
        }
    }

    /// A principal of `office` with `role`, for embedders and tests that act as an office.
    pub fn office(office: &str, token: &str, role: Role) -> Principal {
        Principal {
            office: office.into(),
            token: token.into(),
            role,
            secretariat_of: BTreeSet::new(),
            answers_for: BTreeSet::new(),
            credential: String::new(),
        }
    }

    /// Whether it is an administrator.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether it may write at all.
    pub fn can_write(&self) -> bool {
        self.role >= Role::Editor
    }
}

static ANONYMOUS: LazyLock<Arc<Principal>> = LazyLock::new(|| Arc::new(Principal::anonymous()));

/// [`Principal::anonymous`], shared rather than built for every call of a server without
/// access control.
pub fn anonymous() -> Arc<Principal> {
    ANONYMOUS.clone()
}

/// An `[[offices]]` entry of the configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OfficeEntry {
    id: String,
    #[serde(default)]
    secretariat_of: Vec<String>,
    #[serde(default)]
    attendance_delegates: Vec<String>,
}

/// A `[[tokens]]` entry of the configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenEntry {
    name: String,
    sha256: String,
    office: String,
    role: Role,
    /// After this instant the token no longer authenticates (and ends its watches).
    #[serde(default)]
    expires: Option<toml::value::Datetime>,
}

/// The configured tokens, by digest, each with the instant it expires at (Unix seconds).
#[derive(Debug, Clone, Default)]
pub struct Access {
    tokens: HashMap<String, (Arc<Principal>, Option<i64>)>,
    /// The same expiries by [`credential`].
    credentials: HashMap<String, Option<i64>>,
}

/// The credential of the token whose digest is `sha256_hex`: a second one-way step, so
/// that what the store keeps of a token (in a calendar feed) is not the digest that
/// authenticates it in the access file.
pub fn credential(sha256_hex: &str) -> String {
    digest(&format!("entente credential {sha256_hex}"))
}

/// SHA-256 of a token, as lowercase hex.
pub fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Access {
    /// The access its entries configure.
    pub(crate) fn from_entries(
        offices: Vec<OfficeEntry>,
        tokens: Vec<TokenEntry>,
    ) -> Result<Access, String> {
        let mut secretariats: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut answers_for: HashMap<String, BTreeSet<String>> = HashMap::new();
        for o in offices {
            secretariats
                .entry(o.id.clone())
                .or_default()
                .extend(o.secretariat_of);
            for delegate in o.attendance_delegates {
                answers_for
                    .entry(delegate)
                    .or_default()
                    .insert(o.id.clone());
            }
        }
        let mut by_digest = HashMap::new();
        let mut credentials = HashMap::new();
        for t in tokens {
            let hex = t.sha256.trim().to_ascii_lowercase();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!("token {:?}: sha256 must be 64 hex digits", t.name));
            }
            if t.office.trim().is_empty() {
                return Err(format!("token {:?}: office is empty", t.name));
            }
            let expires = match &t.expires {
                None => None,
                Some(d) => Some(
                    chrono::DateTime::parse_from_rfc3339(&d.to_string())
                        .map_err(|_| {
                            format!(
                                "token {:?}: expires must be a date-time with an offset, such as \
                                 2027-01-01T00:00:00Z",
                                t.name
                            )
                        })?
                        .timestamp(),
                ),
            };
            let principal = Principal {
                secretariat_of: secretariats.get(&t.office).cloned().unwrap_or_default(),
                answers_for: answers_for.get(&t.office).cloned().unwrap_or_default(),
                office: t.office,
                token: t.name,
                role: t.role,
                credential: credential(&hex),
            };
            credentials.insert(principal.credential.clone(), expires);
            if by_digest
                .insert(hex, (Arc::new(principal), expires))
                .is_some()
            {
                return Err("two tokens share one digest".into());
            }
        }
        Ok(Access {
            tokens: by_digest,
            credentials,
        })
    }

    /// Whether any token is configured (otherwise access control is off).
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The principal of a bearer token, if it is known and has not expired.
    pub fn authenticate(&self, token: &str) -> Option<Arc<Principal>> {
        self.authenticate_at(token, chrono::Utc::now().timestamp())
    }

    /// [`Access::authenticate`] at `now` (Unix seconds).
    pub fn authenticate_at(&self, token: &str, now: i64) -> Option<Arc<Principal>> {
        match self.tokens.get(&digest(token))? {
            (p, expires) if expires.is_none_or(|e| now < e) => Some(p.clone()),
            _ => None,
        }
    }

    /// Whether what a principal of `credential` created may still act for it at `now`:
    /// always with access control off (no token can be revoked); otherwise only while a
    /// configured token with that credential has not expired. An empty credential (made
    /// with access control off, or by an embedder) has no token behind it.
    pub fn vouches_for(&self, credential: &str, now: i64) -> bool {
        !self.enabled()
            || self
                .credentials
                .get(credential)
                .is_some_and(|expires| expires.is_none_or(|e| now < e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_matched_by_digest() {
        let text = format!(
            "[[offices]]\nid = \"brics-secretariat\"\nsecretariat_of = [\"brics\"]\n\n\
             [[offices]]\nid = \"RU\"\nattendance_delegates = [\"brics-secretariat\"]\n\n\
             [[tokens]]\nname = \"sec\"\nsha256 = \"{}\"\noffice = \"brics-secretariat\"\nrole = \"EDITOR\"\n",
            digest("s3cret")
        );
        let a = Access::parse(&text).expect("parse");
        let p = a.authenticate("s3cret").expect("known");
        assert_eq!(p.office, "brics-secretariat");
        assert!(p.secretariat_of.contains("brics"));
        assert!(p.answers_for.contains("RU"));
        assert!(a.authenticate("S3cret").is_none());
        assert!(
            Access::parse(
                "[[tokens]]\nname = \"x\"\nsha256 = \"zz\"\noffice = \"RU\"\nrole = \"READER\"\n"
            )
            .is_err()
        );
        assert!(
            Access::parse(
                "[[tokens]]\nname = \"x\"\nsha256 = \"00\"\noffice = \"RU\"\nrole = \"GOD\"\n"
            )
            .is_err()
        );
        assert!(Access::parse("unknown = 1").is_err());
    }

    #[test]
    fn a_token_stops_authenticating_when_it_expires() {
        let text = format!(
            "[[tokens]]\nname = \"t\"\nsha256 = \"{}\"\noffice = \"RU\"\nrole = \"READER\"\n\
             expires = 2027-01-01T00:00:00Z\n",
            digest("s")
        );
        let a = Access::parse(&text).expect("parse");
        let end = 1_798_761_600; // 2027-01-01T00:00:00Z
        assert!(a.authenticate_at("s", end - 1).is_some());
        assert!(a.authenticate_at("s", end).is_none());
        assert!(
            Access::parse(&text.replace("2027-01-01T00:00:00Z", "2027-01-01")).is_err(),
            "a date without a time and offset is refused"
        );
    }

    #[test]
    fn a_credential_is_vouched_for_while_its_token_stands() {
        let text = format!(
            "[[tokens]]\nname = \"t\"\nsha256 = \"{}\"\noffice = \"RU\"\nrole = \"EDITOR\"\n\
             expires = 2027-01-01T00:00:00Z\n",
            digest("s")
        );
        let a = Access::parse(&text).expect("parse");
        let end = 1_798_761_600;
        let who = a.authenticate_at("s", end - 1).expect("token");
        assert_eq!(who.credential, credential(&digest("s")));
        assert_ne!(
            who.credential,
            digest("s"),
            "the store never holds the digest"
        );
        assert!(a.vouches_for(&who.credential, end - 1));
        assert!(!a.vouches_for(&who.credential, end), "expired");
        assert!(!a.vouches_for("", end - 1), "no token behind it");
        assert!(!a.vouches_for(&credential(&digest("other")), end - 1));
        // Access control off: nothing can be revoked.
        assert!(Access::default().vouches_for("", end));
    }
}
