//! Embeds the connector SDK's source (connector-api's Cargo.toml, README.md and every file under
//! src/) into the binary, so that `dbmon connector new` can write it into a new project as
//! `vendor/dbmon-connector-api/`: a project then builds on a machine that has only a dbmon
//! release, whether or not a registry carries the SDK.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let sdk = manifest_dir.join("../connector-api");
    let sdk = sdk.canonicalize().unwrap_or_else(|e| {
        panic!(
            "the connector SDK's source is embedded from {}: {e}; build dbmon from its workspace",
            sdk.display()
        )
    });
    let mut files = vec![PathBuf::from("Cargo.toml"), PathBuf::from("README.md")];
    source_files(&sdk, Path::new("src"), &mut files);
    files.sort();

    let mut table = String::from(
        "/// The SDK's files: (path inside the SDK's folder, contents).\n\
         pub const SDK_FILES: &[(&str, &[u8])] = &[\n",
    );
    for file in &files {
        let absolute = sdk.join(file);
        let relative = file.to_str().expect("SDK file names are UTF-8");
        writeln!(
            table,
            "    ({relative:?}, include_bytes!({:?})),",
            absolute.to_str().expect("the SDK's path is UTF-8")
        )
        .unwrap();
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("sdk_files.rs");
    std::fs::write(&out, table).unwrap();

    println!("cargo:rerun-if-changed=build.rs");
    println!(
        "cargo:rerun-if-changed={}",
        sdk.join("Cargo.toml").display()
    );
    println!("cargo:rerun-if-changed={}", sdk.join("README.md").display());
    // A folder is scanned recursively: an added, removed or edited source file reruns this.
    println!("cargo:rerun-if-changed={}", sdk.join("src").display());
}

/// Every file under `root/dir`, as paths relative to `root`.
fn source_files(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(root.join(dir))
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.join(dir).display()));
    for entry in entries {
        let entry = entry.unwrap();
        let name = entry.file_name();
        // Editor swap and backup files are not the SDK's.
        let name_str = name.to_string_lossy();
        if name_str.starts_with('.') || name_str.ends_with('~') {
            continue;
        }
        let relative = dir.join(&name);
        if entry.file_type().unwrap().is_dir() {
            source_files(root, &relative, files);
        } else {
            files.push(relative);
        }
    }
}
