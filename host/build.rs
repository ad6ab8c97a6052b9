//! Embeds the connector SDK's source and its ABI's (connector-api's and connector-abi's
//! Cargo.toml, README.md and every file under src/) into the binary, so that `dbmon connector
//! new` can write them into a new project as `vendor/connector-api/` and `vendor/connector-abi/`
//! (the SDK names the ABI by the relative path `../connector-abi`, as in this workspace): a
//! project then builds on a machine that has only a dbmon release, whether or not a registry
//! carries the SDK.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

/// The crates a new project vendors: the SDK and the ABI it depends on by relative path.
const CRATES: [&str; 2] = ["connector-api", "connector-abi"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest_dir.join("..");
    let mut files = Vec::new();
    for krate in CRATES {
        let dir = workspace.join(krate).canonicalize().unwrap_or_else(|e| {
            panic!(
                "the connector SDK's source is embedded from {}: {e}; build dbmon from its workspace",
                workspace.join(krate).display()
            )
        });
        let root = Path::new(krate);
        files.push(root.join("Cargo.toml"));
        files.push(root.join("README.md"));
        source_files(&workspace, &root.join("src"), &mut files);
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("Cargo.toml").display()
        );
        println!("cargo:rerun-if-changed={}", dir.join("README.md").display());
        // A folder is scanned recursively: an added, removed or edited source file reruns this.
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
    }
    files.sort();

    let mut table = String::from(
        "/// The SDK's files and its ABI's: (path below the workspace, e.g. \"connector-api/src/lib.rs\", contents).\n\
         pub const SDK_FILES: &[(&str, &[u8])] = &[\n",
    );
    for file in &files {
        let absolute = workspace.join(file).canonicalize().unwrap();
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
