//! Compiles the `.proto` files with protox (pure Rust, no system `protoc`),
//! generates prost messages and tonic services, and serde impls with pbjson so
//! dmctl can print DM's JSON (original field names, defaults emitted).

use std::path::PathBuf;

const PROTOS: &[&str] = &["dmmaster.proto", "worker.proto", "raft.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join("descriptors.bin");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed=proto/{proto}");
    }

    let files = protox::compile(PROTOS, ["proto"])?;
    let descriptor_bytes = prost::Message::encode_to_vec(&files);
    std::fs::write(&descriptor_path, &descriptor_bytes)?;

    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        .compile_fds(files)?;

    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .preserve_proto_field_names()
        .emit_fields()
        .build(&[".dm"])?;
    Ok(())
}
