//! The service: the use cases an office performs, as [`Scheduler`](crate::scheduler::Scheduler)
//! methods. Each takes an explicit [`Principal`](crate::auth::Principal), authorises inside
//! the one write it performs ([`Scheduler::write`](crate::scheduler::Scheduler)), and hands
//! what it answers through the redaction [`View`](crate::redact::View).
//!
//! The domain (the crate `entente-domain`: `directory`, `events`, `conflicts`,
//! `proposals`, `calendar`, `slots`, …) answers questions about records and a state; the
//! orchestration of a write (read, authorise, check, put, audit) and of a redacted read
//! lives here, one file per area: `directory`, `calendar`, `proposals`, `events` (with
//! `checks`, what an event write is checked against as its caller may see it), `slots`,
//! `audit`, `changes` (the change feed), `export`, `feeds` and `import` (iCalendar), and
//! `resources` (how each record kind is stored).

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
