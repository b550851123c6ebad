//! A typed async client for entente. Re-exports the generated `entente.v1` stubs; the
//! ergonomic wrapper and the CLI arrive with their own issue.

pub use entente_proto::v1 as proto;
