//! Generates the gRPC code from dbmon.proto with the protoc shipped in protoc-bin-vendored, so
//! building needs no protoc on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .codec_path("crate::codec::Prost")
        .file_descriptor_set_path(out.join("dbmon_descriptor.bin"))
        .compile_protos(&["dbmon.proto", "ingest.proto", "admin.proto"], &["."])?;
    // The worker protocol: messages only, and outside the descriptor set reflection serves.
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        .compile_protos(&["worker.proto"], &["."])?;
    println!("cargo:rerun-if-changed=dbmon.proto");
    println!("cargo:rerun-if-changed=ingest.proto");
    println!("cargo:rerun-if-changed=admin.proto");
    println!("cargo:rerun-if-changed=worker.proto");
    Ok(())
}
