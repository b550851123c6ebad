//! The service: the use cases an office performs, as [`Scheduler`](crate::scheduler::Scheduler)
//! methods. Each takes an explicit [`Principal`](crate::auth::Principal), authorises inside
//! the one write it performs ([`Scheduler::write`](crate::scheduler::Scheduler)), and hands
//! what it answers through the redaction [`View`](crate::redact::View).
//!
//! The domain modules below it (`directory`, `events`, `conflicts`, `proposals`,
//! `calendar`, `slots`) answer questions about records and a state; the orchestration of
//! a write (read, authorise, check, put, audit) lives here, one file per area.

mod audit;
mod calendar;
mod changes;
pub(crate) mod checks;
pub mod directory;
pub mod events;
mod export;
mod feeds;
mod import;
mod proposals;
mod resources;
pub mod slots;
