//! Compiles `entente/v1/*.proto` with protox (pure Rust, so no system `protoc`) and writes the
//! descriptor set that the server hands to tonic-reflection.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "entente/v1/time.proto",
    "entente/v1/conflict.proto",
    "entente/v1/directory.proto",
    "entente/v1/event.proto",
    "entente/v1/conflict_service.proto",
    "entente/v1/proposal.proto",
    "entente/v1/audit.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=entente");
    let fds = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("entente_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
