//! `edges.rs` on a PostgreSQL store: the same tests, compiled again; the harness picks the
//! store by this binary's name (see `entente_tests::on_postgres`).

#[path = "edges.rs"]
mod suite;
