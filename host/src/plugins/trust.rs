//! Which plugin files the host is willing to load: like sshd's StrictModes, a library that
//! someone else could have replaced is refused, and an optional allowlist pins exact builds.
//!
//! "Could have replaced" covers the whole way to the file, as sshd's `safe_path` does: every
//! folder a name is looked up in, from `/` down, through every symlink (a link is followed by
//! walking its target, so the folders on the way to the target count too, and the link itself
//! must be owned by root or the user running dbmon). Each folder must be owned by root or that
//! user and not be writable by group or others.
//!
//! sshd refuses a group- or world-writable folder even when it is sticky; it can, because it
//! stops walking at the user's home folder and never reaches `/tmp`. This walk goes up to `/`,
//! so it accepts what the sticky bit makes safe: in a root-owned sticky folder (`/tmp`, mode
//! 1777) others can add entries but cannot rename or remove ours, and the next entry on the way
//! is checked in turn. A sticky folder owned by anyone else is refused (its owner can remove
//! every entry), and the plugins folder itself and the file never get the exception: in a
//! sticky plugins folder anyone could add a library.

use sha2::{Digest, Sha256};
use std::{
    ffi::OsString,
    fs::Metadata,
    io::Read,
    os::unix::fs::MetadataExt,
    path::{Component, Path, PathBuf},
};

/// More symlinks than this on the way to one file is taken for a loop (Linux's own limit).
const MAX_LINKS: usize = 40;

/// The sticky bit of a mode: only an entry's owner (or the folder's) may rename or remove it.
const STICKY: u32 = 0o1000;

/// The operator's rules for plugin files (`plugins:` in the YAML).
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Load files and folders whatever their owner and mode.
    pub insecure: bool,
    /// When not empty, only files with one of these SHA-256 digests (lowercase hex) load.
    pub allow: Vec<String>,
}

/// A library file that passed the checks, held open: what was checked and hashed is what
/// loads ([`TrustedFile::load_path`]), whatever its path names by then.
#[derive(Debug)]
pub struct TrustedFile {
    /// The file the path names once every symlink is followed: the one that was checked.
    pub resolved: PathBuf,
    /// Its SHA-256 (lowercase hex).
    pub sha256: String,
    pub(super) file: std::fs::File,
}

impl TrustedFile {
    /// The path the dynamic loader opens this very file by (`/proc/self/fd/N`), valid while
    /// `self` lives.
    pub fn load_path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }
}

impl TrustPolicy {
    /// Refuses a plugins folder that someone other than root or the user running the host
    /// could change: the folder, or a folder or link on the way to it, owned by another user
    /// or writable by group or others. Returns the folder's real path.
    pub fn check_folder(&self, dir: &Path) -> Result<PathBuf, String> {
        if self.insecure {
            return std::fs::canonicalize(dir)
                .map_err(|e| format!("cannot resolve the plugins folder: {e}"));
        }
        walk(dir, Target::PluginsFolder)
    }

    /// Checks a library file and everything on the way to it (as [`check_folder`] does), then
    /// the allowlist; returns the file the path resolves to and its SHA-256.
    ///
    /// [`check_folder`]: Self::check_folder
    pub fn check_file(&self, path: &Path) -> Result<TrustedFile, String> {
        let resolved = if self.insecure {
            std::fs::canonicalize(path).map_err(|e| format!("cannot resolve it: {e}"))?
        } else {
            walk(path, Target::File)?
        };
        // One open file from here on: a file renamed over the path after the walk is not the
        // one hashed or loaded, and the open file gets the walk's checks of the file again.
        let mut file =
            std::fs::File::open(&resolved).map_err(|e| format!("cannot read it: {e}"))?;
        if !self.insecure {
            let meta = file
                .metadata()
                .map_err(|e| format!("cannot stat it: {e}"))?;
            check_target(&resolved, &meta, Target::File)?;
        }
        let sha256 = sha256_of(&mut file)?;
        if !self.allow.is_empty() && !self.allow.iter().any(|a| a.eq_ignore_ascii_case(&sha256)) {
            return Err(format!("its sha256 {sha256} is not in plugins.allow"));
        }
        Ok(TrustedFile {
            resolved,
            sha256,
            file,
        })
    }
}

/// What a walk ends at.
#[derive(Debug, Clone, Copy)]
enum Target {
    File,
    PluginsFolder,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::File => "file",
            Target::PluginsFolder => "plugins folder",
        }
    }
}

/// One step of a path still to walk.
enum Step {
    Root,
    Up,
    Name(OsString),
}

fn steps(path: &Path) -> Vec<Step> {
    path.components()
        .filter_map(|c| match c {
            Component::RootDir => Some(Step::Root),
            Component::ParentDir => Some(Step::Up),
            Component::Normal(name) => Some(Step::Name(name.to_os_string())),
            Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// Resolves `path` one name at a time, as the kernel does, checking every folder a name is
/// looked up in and every link followed; then checks what it ends at. Returns its real path.
fn walk(path: &Path, target: Target) -> Result<PathBuf, String> {
    let what = target.name();
    let absolute =
        std::path::absolute(path).map_err(|e| format!("cannot resolve the {what}: {e}"))?;
    // A stack: the next step is last.
    let mut todo: Vec<Step> = steps(&absolute).into_iter().rev().collect();
    let mut current = PathBuf::from("/");
    let mut links = 0;
    while let Some(step) = todo.pop() {
        let name = match step {
            Step::Root => {
                current = PathBuf::from("/");
                continue;
            }
            // `current` holds no symlink, so its parent is the real parent, checked already.
            Step::Up => {
                current.pop();
                continue;
            }
            Step::Name(name) => name,
        };
        check_on_the_way(&current, &lstat(&current)?, what)?;
        let next = current.join(name);
        let meta = lstat(&next)?;
        if !meta.file_type().is_symlink() {
            current = next;
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(format!(
                "more than {MAX_LINKS} symlinks on the way to the {what} (a loop?) at {}",
                next.display()
            ));
        }
        let subject = format!("the link {} on the way to the {what}", next.display());
        check_owner(&next, &meta, &subject, "chown -h")?;
        let link = std::fs::read_link(&next)
            .map_err(|e| format!("cannot read the link {}: {e}", next.display()))?;
        // A relative target continues from the link's folder, an absolute one from `/`.
        todo.extend(steps(&link).into_iter().rev());
    }
    check_target(&current, &lstat(&current)?, target)?;
    Ok(current)
}

fn lstat(path: &Path) -> Result<Metadata, String> {
    std::fs::symlink_metadata(path).map_err(|e| format!("cannot stat {}: {e}", path.display()))
}

/// A folder a name is looked up in.
fn check_on_the_way(folder: &Path, meta: &Metadata, what: &str) -> Result<(), String> {
    let subject = format!("the folder {} on the way to the {what}", folder.display());
    if !meta.is_dir() {
        return Err(format!("{subject} is not a folder"));
    }
    check_owner(folder, meta, &subject, "chown")?;
    let root_sticky = meta.mode() & STICKY != 0 && meta.uid() == 0;
    if !root_sticky {
        check_mode(folder, meta, &subject)?;
    }
    Ok(())
}

/// The file or the plugins folder itself: no sticky exception.
fn check_target(path: &Path, meta: &Metadata, target: Target) -> Result<(), String> {
    let subject = format!("the {}", target.name());
    let right_kind = match target {
        Target::File => meta.is_file(),
        Target::PluginsFolder => meta.is_dir(),
    };
    if !right_kind {
        let kind = match target {
            Target::File => "a regular file",
            Target::PluginsFolder => "a folder",
        };
        return Err(format!("{subject} {} is not {kind}", path.display()));
    }
    check_mode(path, meta, &subject)?;
    check_owner(path, meta, &subject, "chown")
}

fn check_mode(path: &Path, meta: &Metadata, subject: &str) -> Result<(), String> {
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "{subject} is writable by group or others (mode {mode:04o}); run `chmod go-w {}` or set plugins.insecure: true",
            path.display()
        ));
    }
    Ok(())
}

fn check_owner(path: &Path, meta: &Metadata, subject: &str, chown: &str) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!(
            "{subject} is owned by uid {}, not by the user running dbmon (uid {me}) or root; run `{chown} {me} {}` or set plugins.insecure: true",
            meta.uid(),
            path.display()
        ));
    }
    Ok(())
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    sha256_of(&mut file)
}

/// SHA-256 of what is left to read of `file`, lowercase hex.
fn sha256_of(file: &mut std::fs::File) -> Result<String, String> {
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
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn folder(parent: &Path, name: &str, mode: u32) -> std::path::PathBuf {
        let path = parent.join(name);
        std::fs::create_dir(&path).unwrap();
        chmod(&path, mode);
        path
    }

    fn is_root() -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

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
        assert_eq!(pinned.check_file(&path).unwrap().sha256, abc);
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

    #[test]
    fn a_link_is_checked_where_it_points_and_the_folders_on_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let plugins = folder(&base, "plugins.d", 0o755);
        let open = folder(&base, "open", 0o777);
        let target = file_with_mode(&open, 0o644);
        let link = plugins.join("libx.so");
        symlink(&target, &link).unwrap();
        let strict = TrustPolicy::default();
        let err = strict.check_file(&link).unwrap_err();
        let expected = format!(
            "the folder {} on the way to the file is writable by group or others (mode 0777); run `chmod go-w {}`",
            open.display(),
            open.display()
        );
        assert!(err.starts_with(&expected), "{err}");

        chmod(&open, 0o755);
        let trusted = strict.check_file(&link).unwrap();
        assert_eq!(trusted.resolved, target);
        // sha256("abc")
        assert!(trusted.sha256.starts_with("ba7816bf"), "{trusted:?}");
    }

    #[test]
    fn relative_links_chains_and_dot_dot_resolve_like_the_kernel() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let plugins = folder(&base, "plugins.d", 0o755);
        let real = folder(&base, "real", 0o755);
        let target = file_with_mode(&real, 0o755);
        // plugins.d/a.so -> ../hop/b.so, hop -> real (a folder link), real/b.so -> lib755.so
        symlink("real", base.join("hop")).unwrap();
        symlink("lib755.so", real.join("b.so")).unwrap();
        symlink("../hop/b.so", plugins.join("a.so")).unwrap();
        let strict = TrustPolicy::default();
        let trusted = strict.check_file(&plugins.join("a.so")).unwrap();
        assert_eq!(trusted.resolved, target);
        assert_eq!(
            trusted.resolved,
            std::fs::canonicalize(plugins.join("a.so")).unwrap()
        );

        // The folder holding the folder link is on the way even though the target is not in it.
        let open = folder(&base, "open", 0o777);
        symlink(&real, open.join("hop")).unwrap();
        std::fs::remove_file(plugins.join("a.so")).unwrap();
        symlink(open.join("hop/lib755.so"), plugins.join("a.so")).unwrap();
        let err = strict.check_file(&plugins.join("a.so")).unwrap_err();
        assert!(
            err.starts_with(&format!("the folder {} on the way", open.display())),
            "{err}"
        );
    }

    #[test]
    fn a_link_loop_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        symlink("b.so", base.join("a.so")).unwrap();
        symlink("a.so", base.join("b.so")).unwrap();
        let err = TrustPolicy::default()
            .check_file(&base.join("a.so"))
            .unwrap_err();
        assert!(err.contains("more than 40 symlinks"), "{err}");
    }

    #[test]
    fn a_writable_parent_refuses_the_plugins_folder_and_a_root_sticky_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let parent = folder(&base, "parent", 0o777);
        let plugins = folder(&parent, "plugins.d", 0o755);
        let strict = TrustPolicy::default();
        let err = strict.check_folder(&plugins).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "the folder {} on the way to the plugins folder is writable by group or others (mode 0777)",
                parent.display()
            )),
            "{err}"
        );
        let insecure = TrustPolicy {
            insecure: true,
            ..TrustPolicy::default()
        };
        assert_eq!(insecure.check_folder(&plugins).unwrap(), plugins);

        // Sticky, like /tmp: others cannot replace our entries, but only root is trusted to
        // own such a folder (the tests run as root or not: both outcomes are checked).
        chmod(&parent, 0o1777);
        let result = strict.check_folder(&plugins);
        if is_root() {
            assert_eq!(result.unwrap(), plugins);
        } else {
            assert!(result.unwrap_err().contains("(mode 1777)"));
        }
        // The plugins folder itself gets no sticky exception: anyone could add a library.
        chmod(&plugins, 0o1777);
        let err = strict.check_folder(&plugins).unwrap_err();
        assert!(
            err.contains("writable by group or others (mode 1777)"),
            "{err}"
        );
    }

    #[test]
    fn a_folder_or_link_of_another_user_is_refused_with_the_chown() {
        if !is_root() {
            // Only root can give a file away; the non-root case is the same comparison.
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let plugins = folder(&base, "plugins.d", 0o755);
        let theirs = folder(&base, "theirs", 0o755);
        let target = file_with_mode(&theirs, 0o755);
        let link = plugins.join("libx.so");
        symlink(&target, &link).unwrap();
        std::os::unix::fs::chown(&theirs, Some(65534), None).unwrap();
        let strict = TrustPolicy::default();
        let err = strict.check_file(&link).unwrap_err();
        assert!(
            err.contains(&format!(
                "the folder {} on the way to the file is owned by uid 65534, not by the user running dbmon (uid 0) or root; run `chown 0 {}`",
                theirs.display(),
                theirs.display()
            )),
            "{err}"
        );
        std::os::unix::fs::chown(&theirs, Some(0), None).unwrap();
        std::os::unix::fs::lchown(&link, Some(65534), None).unwrap();
        let err = strict.check_file(&link).unwrap_err();
        assert!(
            err.contains(&format!(
                "the link {} on the way to the file is owned by uid 65534",
                link.display()
            )) && err.contains(&format!("run `chown -h 0 {}`", link.display())),
            "{err}"
        );
    }

    #[test]
    fn a_folder_named_like_a_library_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let fake = folder(&base, "libfake.so", 0o755);
        let err = TrustPolicy::default().check_file(&fake).unwrap_err();
        assert_eq!(
            err,
            format!("the file {} is not a regular file", fake.display())
        );
    }
}
