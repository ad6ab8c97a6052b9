//! `dbmon connector new NAME`: a standalone cargo project with a working connector, its
//! README, example config and tests, from templates compiled into the binary.

use dbmon_connector_api::ffi::API_VERSION;
use std::path::{Path, PathBuf};

/// The project's files: (path in the project, template).
const FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("templates/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("templates/lib.rs.tmpl")),
    (
        "tests/conformance.rs",
        include_str!("templates/conformance.rs.tmpl"),
    ),
    (
        "tests/collect.rs",
        include_str!("templates/collect.rs.tmpl"),
    ),
    ("README.md", include_str!("templates/README.md.tmpl")),
    ("example.yaml", include_str!("templates/example.yaml.tmpl")),
    (".gitignore", include_str!("templates/gitignore.tmpl")),
];

/// What the project is called and where the SDK comes from.
#[derive(Debug, Clone)]
pub struct Scaffold {
    /// The connector's name (`connector:` in the host's YAML).
    pub name: String,
    /// A local connector-api checkout to depend on instead of the registry's release.
    pub sdk_path: Option<PathBuf>,
}

impl Scaffold {
    /// Checks the name and the SDK path.
    pub fn new(name: &str, sdk_path: Option<&Path>) -> Result<Scaffold, String> {
        check_name(name)?;
        let sdk_path = match sdk_path {
            Some(path) => Some(check_sdk(path)?),
            None => None,
        };
        Ok(Scaffold {
            name: name.into(),
            sdk_path,
        })
    }

    /// The crate name, as Rust code spells it (`dbmon_connector_my_db`).
    pub fn crate_name(&self) -> String {
        format!("dbmon_connector_{}", self.name.replace('-', "_"))
    }

    /// The library cargo builds, `libdbmon_connector_NAME.so`.
    pub fn library_file(&self) -> String {
        format!("lib{}.so", self.crate_name())
    }

    /// Every file of the project: (relative path, contents).
    pub fn render(&self) -> Vec<(&'static str, String)> {
        let sdk = match &self.sdk_path {
            Some(path) => format!("{{ path = {:?} }}", path.display().to_string()),
            None => format!("\"{}\"", major_minor(API_VERSION)),
        };
        let substitutions = [
            ("{{name}}", self.name.clone()),
            ("{{package}}", format!("dbmon-connector-{}", self.name)),
            ("{{crate}}", self.crate_name()),
            ("{{Type}}", type_name(&self.name)),
            ("{{sdk}}", sdk),
        ];
        FILES
            .iter()
            .map(|(path, template)| {
                let text = substitutions
                    .iter()
                    .fold(template.to_string(), |text, (key, value)| {
                        text.replace(key, value)
                    });
                (*path, text)
            })
            .collect()
    }

    /// Writes the project into `dir`, which must not exist yet.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        if dir.exists() {
            return Err(format!(
                "{} already exists; choose another --path or remove it first",
                dir.display()
            ));
        }
        for (path, text) in self.render() {
            let file = dir.join(path);
            let parent = file.parent().expect("project files live in a folder");
            std::fs::create_dir_all(parent)
                .and_then(|()| std::fs::write(&file, text))
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        }
        Ok(())
    }
}

/// `[a-z][a-z0-9_-]*`, at most 64 characters: a cluster's `connector:` value, a cargo package
/// name and (in CamelCase) a Rust type name.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'));
    if !first_ok || !rest_ok || name.len() > 64 {
        return Err(format!(
            "'{name}' is not a connector name: use a lowercase letter, then lowercase letters, digits, '_' or '-' (at most 64)"
        ));
    }
    Ok(())
}

/// The folder of a connector-api checkout, absolute so that the project builds from anywhere.
fn check_sdk(path: &Path) -> Result<PathBuf, String> {
    let dir =
        std::fs::canonicalize(path).map_err(|e| format!("--sdk-path {}: {e}", path.display()))?;
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    if !manifest.contains("name = \"dbmon-connector-api\"") {
        return Err(format!(
            "--sdk-path {}: not the dbmon-connector-api crate (no Cargo.toml naming it)",
            dir.display()
        ));
    }
    Ok(dir)
}

/// `1.1` of `1.1.0`: the oldest SDK the generated code compiles with is this host's minor.
fn major_minor(version: &str) -> String {
    version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

/// `my-db` → `MyDbConnector`: CamelCase, with a suffix so that no name collides with a type
/// the SDK exports (`report` would otherwise shadow `Report`).
fn type_name(name: &str) -> String {
    let camel: String = name
        .split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect();
    format!("{camel}Connector")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_connector_rules() {
        for good in ["hello", "my-db", "pg_2", "a"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Hello",
            "2db",
            "-x",
            "my db",
            "é",
            "a.b",
            &"a".repeat(65),
        ] {
            let err = check_name(bad).unwrap_err();
            assert!(err.contains("is not a connector name"), "{bad}: {err}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let scaffold = Scaffold::new("my-db", None).unwrap();
        assert_eq!(scaffold.library_file(), "libdbmon_connector_my_db.so");
        assert_eq!(type_name("my-db"), "MyDbConnector");
        assert_eq!(type_name("report"), "ReportConnector");
        for (path, text) in scaffold.render() {
            assert!(!text.contains("{{"), "{path} keeps a placeholder");
        }
        let files = scaffold.render();
        let manifest = &files.iter().find(|(p, _)| *p == "Cargo.toml").unwrap().1;
        let wanted = format!("dbmon-connector-api = \"{}\"", major_minor(API_VERSION));
        assert!(manifest.contains(&wanted), "{manifest}");
        assert!(manifest.contains("name = \"dbmon-connector-my-db\""));
        assert!(
            manifest.contains("\n[workspace]\n"),
            "a workspace of its own"
        );
        let lib = &files.iter().find(|(p, _)| *p == "src/lib.rs").unwrap().1;
        assert!(lib.contains("export_connector!(MyDbConnector);"));
        assert!(lib.contains("name: \"my-db\","));
    }

    #[test]
    fn the_sdk_path_must_be_the_sdk_and_existing_folders_are_kept() {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connector-api");
        let scaffold = Scaffold::new("hello", Some(&sdk)).unwrap();
        let files = scaffold.render();
        let manifest = &files.iter().find(|(p, _)| *p == "Cargo.toml").unwrap().1;
        let absolute = std::fs::canonicalize(&sdk).unwrap();
        let wanted = format!(
            "dbmon-connector-api = {{ path = \"{}\" }}",
            absolute.display()
        );
        assert!(manifest.contains(&wanted), "{manifest}");

        let host_crate = Path::new(env!("CARGO_MANIFEST_DIR"));
        let err = Scaffold::new("hello", Some(host_crate)).unwrap_err();
        assert!(err.contains("not the dbmon-connector-api crate"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let err = scaffold.write(dir.path()).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        scaffold.write(&dir.path().join("hello")).unwrap();
        assert!(dir.path().join("hello/tests/conformance.rs").is_file());
    }
}
