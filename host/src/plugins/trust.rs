//! Which plugin files the host is willing to load: like sshd's StrictModes, a library that
//! someone else could have replaced is refused, and an optional allowlist pins exact builds.

use sha2::{Digest, Sha256};
use std::{io::Read, os::unix::fs::MetadataExt, path::Path};

/// The operator's rules for plugin files (`plugins:` in the YAML).
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Load files and folders whatever their owner and mode.
    pub insecure: bool,
    /// When not empty, only files with one of these SHA-256 digests (lowercase hex) load.
    pub allow: Vec<String>,
}

impl TrustPolicy {
    /// Refuses a folder (or file) writable by group or others, or owned by someone other than
    /// the user running the host or root.
    pub fn check_ownership(&self, path: &Path, what: &str) -> Result<(), String> {
        if self.insecure {
            return Ok(());
        }
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot stat the {what}: {e}"))?;
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(format!(
                "the {what} is writable by group or others (mode {mode:04o}); run `chmod go-w {}` or set plugins.insecure: true",
                path.display()
            ));
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me && meta.uid() != 0 {
            return Err(format!(
                "the {what} is owned by uid {}, not by the user running dbmon (uid {me}) or root; run `chown {me} {}` or set plugins.insecure: true",
                meta.uid(),
                path.display()
            ));
        }
        Ok(())
    }

    /// Checks a library file and returns its SHA-256 (lowercase hex).
    pub fn check_file(&self, path: &Path) -> Result<String, String> {
        self.check_ownership(path, "file")?;
        let digest = sha256_file(path)?;
        if !self.allow.is_empty() && !self.allow.iter().any(|a| a.eq_ignore_ascii_case(&digest)) {
            return Err(format!("its sha256 {digest} is not in plugins.allow"));
        }
        Ok(digest)
    }
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| format!("cannot read it: {e}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file_with_mode(dir: &Path, mode: u32) -> std::path::PathBuf {
        let path = dir.join(format!("lib{mode:o}.so"));
        std::fs::write(&path, b"abc").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn group_or_world_writable_files_are_refused_unless_insecure() {
        let dir = tempfile::tempdir().unwrap();
        let strict = TrustPolicy::default();
        assert!(
            strict
                .check_file(&file_with_mode(dir.path(), 0o755))
                .is_ok()
        );
        let err = strict
            .check_file(&file_with_mode(dir.path(), 0o775))
            .unwrap_err();
        assert!(
            err.contains("writable by group or others (mode 0775)"),
            "{err}"
        );
        assert!(
            strict
                .check_file(&file_with_mode(dir.path(), 0o646))
                .is_err()
        );
        let insecure = TrustPolicy {
            insecure: true,
            ..TrustPolicy::default()
        };
        assert!(
            insecure
                .check_file(&file_with_mode(dir.path(), 0o777))
                .is_ok()
        );
    }

    #[test]
    fn the_allowlist_pins_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with_mode(dir.path(), 0o644);
        // sha256("abc")
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_file(&path).unwrap(), abc);
        let pinned = TrustPolicy {
            insecure: false,
            allow: vec![abc.to_uppercase()],
        };
        assert_eq!(pinned.check_file(&path).unwrap(), abc);
        let other = TrustPolicy {
            insecure: false,
            allow: vec!["00".repeat(32)],
        };
        let err = other.check_file(&path).unwrap_err();
        assert!(
            err.contains(&format!("its sha256 {abc} is not in plugins.allow")),
            "{err}"
        );
    }
}
