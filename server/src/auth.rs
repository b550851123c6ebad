//! Who is calling, and what they may see and change.
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
//! [[tokens]]
//! name = "ru-protocol"
//! sha256 = "…64 hex digits…"   # printf %s "$TOKEN" | sha256sum
//! office = "RU"
//! role = "EDITOR"
//! ```
//!
//! Visibility of an event or proposal: PUBLIC, every authenticated office; PARTIES, the
//! offices of the countries taking part, the host, the forum's secretariat and the owner;
//! PRIVATE, the owner only. Writes need EDITOR on an office that owns or takes part.
//!
//! The gRPC layer authenticates each call and runs it inside [`CALLER`]'s scope; the
//! scheduler's write path reads it to append an audit record to the same atomic batch.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
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

/// An authenticated caller.
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
}

impl Principal {
    /// The caller when access control is off, and of in-process calls: an administrator.
    pub fn anonymous() -> Principal {
        Principal {
            office: String::new(),
            token: "anonymous".into(),
            role: Role::Admin,
            secretariat_of: BTreeSet::new(),
        }
    }

    /// The caller of the open services (health, reflection) when access control is on.
    pub fn open_reader() -> Principal {
        Principal {
            office: String::new(),
            token: "unauthenticated".into(),
            role: Role::Reader,
            secretariat_of: BTreeSet::new(),
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
pub fn can_see(p: &Principal, visibility: crate::events::Visibility, parties: &Parties) -> bool {
    use crate::events::Visibility::*;
    p.is_admin()
        || (!p.office.is_empty() && parties.owner == p.office)
        || match visibility {
            Public => true,
            Parties => parties.includes(p),
            Private => false,
        }
}

/// Whether `p` may change something with these parties.
pub fn can_change(p: &Principal, parties: &Parties) -> bool {
    p.is_admin() || (p.can_write() && parties.includes(p))
}

/// The parties of a stored event, from the state.
pub fn event_parties(st: &crate::scheduler::State, e: &crate::events::Event) -> Parties {
    let mut countries: BTreeSet<String> = e
        .participants
        .iter()
        .filter_map(|p| {
            st.participants
                .get(p.as_str())
                .map(|x| x.country_code.clone())
        })
        .collect();
    countries.insert(e.host_country.to_string());
    Parties {
        countries,
        forum: e.forum_id.as_deref().map(str::to_string),
        owner: e.owner_office.to_string(),
    }
}

/// Whether the current caller may see `e`.
pub fn caller_sees(st: &crate::scheduler::State, e: &crate::events::Event) -> bool {
    let p = current();
    p.is_admin() || can_see(&p, e.visibility, &event_parties(st, e))
}

/// The call being served, for the audit log.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub principal: Arc<Principal>,
    /// The gRPC method path.
    pub method: String,
}

tokio::task_local! {
    /// The caller of the RPC this task serves (absent for in-process calls).
    pub static CALLER: Caller;
}

/// The two principals that carry no token, shared rather than built for every call (every
/// call of a server without access control, every in-process call of an embedder).
static ANONYMOUS: LazyLock<Arc<Principal>> = LazyLock::new(|| Arc::new(Principal::anonymous()));
static OPEN_READER: LazyLock<Arc<Principal>> = LazyLock::new(|| Arc::new(Principal::open_reader()));

/// [`Principal::anonymous`], shared.
pub fn anonymous() -> Arc<Principal> {
    ANONYMOUS.clone()
}

/// [`Principal::open_reader`], shared.
pub fn open_reader() -> Arc<Principal> {
    OPEN_READER.clone()
}

/// The current caller, or an anonymous administrator outside an RPC (in-process use).
pub fn current() -> Arc<Principal> {
    CALLER
        .try_with(|c| c.principal.clone())
        .unwrap_or_else(|_| anonymous())
}

/// The current call, if any.
pub fn current_call() -> Option<Caller> {
    CALLER.try_with(Clone::clone).ok()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    offices: Vec<OfficeEntry>,
    #[serde(default)]
    tokens: Vec<TokenEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficeEntry {
    id: String,
    #[serde(default)]
    secretariat_of: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    sha256: String,
    office: String,
    role: Role,
}

/// The configured tokens, by digest.
#[derive(Debug, Clone, Default)]
pub struct Access {
    tokens: HashMap<String, Arc<Principal>>,
}

/// Why the access file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Unreadable.
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    /// Not valid TOML of the expected shape.
    #[error("{0}: {1}")]
    Parse(String, String),
    /// A semantic problem.
    #[error("{0}: {1}")]
    Invalid(String, String),
}

/// SHA-256 of a token, as lowercase hex.
pub fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Access {
    /// Reads the access file.
    pub fn load(path: &Path) -> Result<Access, AccessError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| AccessError::Read(shown.clone(), e))?;
        Access::parse(&text).map_err(|e| match e {
            AccessError::Parse(_, m) => AccessError::Parse(shown.clone(), m),
            AccessError::Invalid(_, m) => AccessError::Invalid(shown.clone(), m),
            other => other,
        })
    }

    /// Parses the access file's text.
    pub fn parse(text: &str) -> Result<Access, AccessError> {
        let cfg: FileConfig =
            toml::from_str(text).map_err(|e| AccessError::Parse(String::new(), e.to_string()))?;
        let offices: HashMap<String, BTreeSet<String>> = cfg
            .offices
            .into_iter()
            .map(|o| (o.id, o.secretariat_of.into_iter().collect()))
            .collect();
        let mut tokens = HashMap::new();
        for t in cfg.tokens {
            let hex = t.sha256.trim().to_ascii_lowercase();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(AccessError::Invalid(
                    String::new(),
                    format!("token {:?}: sha256 must be 64 hex digits", t.name),
                ));
            }
            if t.office.trim().is_empty() {
                return Err(AccessError::Invalid(
                    String::new(),
                    format!("token {:?}: office is empty", t.name),
                ));
            }
            let principal = Principal {
                secretariat_of: offices.get(&t.office).cloned().unwrap_or_default(),
                office: t.office,
                token: t.name,
                role: t.role,
            };
            if tokens.insert(hex, Arc::new(principal)).is_some() {
                return Err(AccessError::Invalid(
                    String::new(),
                    "two tokens share one digest".into(),
                ));
            }
        }
        Ok(Access { tokens })
    }

    /// Whether any token is configured (otherwise access control is off).
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The principal of a bearer token, if it is known.
    pub fn authenticate(&self, token: &str) -> Option<Arc<Principal>> {
        self.tokens.get(&digest(token)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_matched_by_digest() {
        let text = format!(
            "[[offices]]\nid = \"brics-secretariat\"\nsecretariat_of = [\"brics\"]\n\n\
             [[tokens]]\nname = \"sec\"\nsha256 = \"{}\"\noffice = \"brics-secretariat\"\nrole = \"EDITOR\"\n",
            digest("s3cret")
        );
        let a = Access::parse(&text).expect("parse");
        let p = a.authenticate("s3cret").expect("known");
        assert_eq!(p.office, "brics-secretariat");
        assert!(p.secretariat_of.contains("brics"));
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
}

/// One write, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditRecord {
    /// 1, 2, 3, ...
    pub sequence: u64,
    /// Microseconds since the epoch.
    pub time: i64,
    /// The caller's office ("" without access control; "in-process" for embedded calls).
    pub office: String,
    /// The token's name.
    pub token: String,
    /// The gRPC method, or "in-process".
    pub method: String,
    /// The first resource the write touched: "events/kazan-summit".
    pub resource: String,
}

/// "e/kazan" -> "events/kazan".
pub fn resource_name(key: &[u8]) -> String {
    let text = String::from_utf8_lossy(key);
    let (prefix, rest) = text.split_at(text.find('/').map_or(0, |i| i + 1));
    let rest = rest.split('\0').next().unwrap_or(rest);
    let collection = match prefix {
        "c/" => "countries",
        "p/" => "participants",
        "v/" => "venues",
        "f/" => "forums",
        "e/" | "h/" => "events",
        "x/" | "y/" => "proposals",
        "q/" => "requests",
        _ => "other",
    };
    format!("{collection}/{rest}")
}

impl crate::scheduler::Scheduler {
    /// Audit records in order, one page at a time.
    pub fn audit_records(
        &self,
        page: &crate::validate::PageRequest,
    ) -> crate::error::Result<(Vec<AuditRecord>, String)> {
        let after = page.after_sequence()?;
        let rows = self.store().scan_from(
            crate::storage::prefix::AUDIT,
            &(after + 1).to_be_bytes(),
            page.size + 1,
        )?;
        crate::validate::sequence_page(
            rows.iter()
                .map(|(k, v)| crate::storage::decode::<AuditRecord>(k, v)),
            |r| r.sequence,
            page,
        )
    }
}
