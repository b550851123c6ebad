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
    "entente/v1/calendar.proto",
    "entente/v1/ics.proto",
    "entente/v1/changes.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=entente");
    let fds = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("entente_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // prost's codec, decoding contiguous messages as slices (src/codec.rs).
        .codec_path("crate::codec::SliceCodec")
        .boxed(".entente.v1.CreateEventRequest.event")
        .boxed(".entente.v1.CreateEventResponse.event")
        .boxed(".entente.v1.GetEventResponse.event")
        .boxed(".entente.v1.UpdateEventRequest.event")
        .boxed(".entente.v1.UpdateEventResponse.event")
        .boxed(".entente.v1.CancelEventResponse.event")
        .boxed(".entente.v1.GetProgrammeResponse.event")
        .boxed(".entente.v1.CheckConflictsRequest.event")
        .boxed(".entente.v1.CheckConflictsResponse.event")
        .boxed(".entente.v1.FinaliseProposalResponse.event")
        .boxed(".entente.v1.SetAttendanceResponse.event")
        .compile_fds(fds)?;
    Ok(())
}
