//! The `entente.v1` contract: the generated messages, clients and servers.
//!
//! The `.proto` files under `proto/entente/v1/` are the contract; any gRPC client generated
//! from them talks to the server. This crate only compiles them.

pub mod codec;

/// Generated code for package `entente.v1`.
#[allow(
    missing_docs,
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations
)]
pub mod v1 {
    tonic::include_proto!("entente.v1");
}

/// The encoded file descriptor set, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("entente_descriptor");

pub use prost_types;
