//! entente's domain: the records and the rules over them, as plain values.
//!
//! What lives here: the directory (countries, participants, venues, forums), events and
//! their times, indexes and history, proposals and their state machine, working calendars,
//! calendar subscriptions as records, the in-memory [`state::State`] that holds them all,
//! field validation, the conflict and travel checks, and the slot finder. Given the records it needs, each
//! function answers; none waits, locks, stores or talks to a network.
//!
//! What it may not know, and the compiler holds it to (this crate depends on nothing of
//! entente's but `entente-time`): tokio, tonic and the proto; storage keys, codecs and
//! engines (`entente_server::storage`); the state's lock and the write path
//! (`entente_server::scheduler`); who may see what (`policy`, `redact`) and the use cases
//! (`entente_server::service`). Those are the server's layers above this one.
//!
//! Modules, bottom first (each names only those before it, `tests/layers.rs` in the
//! server checks it): [`error`], [`stop`], [`validate`], [`record`], [`directory`],
//! [`events`], [`proposals`], [`calendar`], [`subscription`], [`state`], [`conflicts`],
//! [`history`], [`slots`].

pub use entente_time as time;

pub mod calendar;
pub mod conflicts;
pub mod directory;
pub mod error;
pub mod events;
pub mod history;
pub mod proposals;
pub mod record;
pub mod slots;
pub mod state;
pub mod stop;
pub mod subscription;
pub mod validate;
