//! `dbmon connector new NAME`: a standalone cargo project with a working connector, its
//! README, example config and tests, from templates compiled into the binary, and the SDK it
//! builds against (see [`Sdk`]).

use super::sdk::Sdk;
use std::path::Path;

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
    /// The SDK the project depends on: the one this binary carries, or a checkout.
    pub sdk: Sdk,
}

impl Scaffold {
    /// Checks the name and the SDK path (`None`: the SDK this binary carries).
    pub fn new(name: &str, sdk_path: Option<&Path>) -> Result<Scaffold, String> {
        check_name(name)?;
        let sdk = match sdk_path {
            Some(path) => Sdk::checkout(path)?,
            None => Sdk::Vendored,
        };
        Ok(Scaffold {
            name: name.into(),
            sdk,
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

    /// The project's own files (the SDK's aside) for a project at `project`, an absolute path:
    /// (relative path, contents).
    pub fn render(&self, project: &Path) -> Vec<(&'static str, String)> {
        let substitutions = [
            ("{{name}}", self.name.clone()),
            ("{{package}}", format!("dbmon-connector-{}", self.name)),
            ("{{crate}}", self.crate_name()),
            ("{{Type}}", type_name(&self.name)),
            ("{{sdk}}", self.sdk.dependency(project)),
            ("{{sdk_note}}", self.sdk.note()),
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
        let project = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::canonicalize(dir))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for (path, text) in self.render(&project) {
            write_file(&project.join(path), text.as_bytes())?;
        }
        for (path, bytes) in self.sdk.files() {
            write_file(&project.join(path), bytes)?;
        }
        Ok(())
    }
}

fn write_file(file: &Path, bytes: &[u8]) -> Result<(), String> {
    let parent = file.parent().expect("project files live in a folder");
    std::fs::create_dir_all(parent)
        .and_then(|()| std::fs::write(file, bytes))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))
}

/// The SDK's rule for connector names (a `connector:` value, a cargo package name and, in
/// CamelCase, a Rust type name).
fn check_name(name: &str) -> Result<(), String> {
    dbmon_connector_api::names::connector_name_problem(name).map_or(Ok(()), Err)
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
        let files = scaffold.render(Path::new("/home/me/my-db"));
        for (path, text) in &files {
            assert!(!text.contains("{{"), "{path} keeps a placeholder");
        }
        let manifest = &files.iter().find(|(p, _)| *p == "Cargo.toml").unwrap().1;
        let wanted = "dbmon-connector-api = { path = \"vendor/connector-api\", version = ";
        assert!(manifest.contains(wanted), "{manifest}");
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
    fn the_project_carries_the_sdk_and_existing_folders_are_kept() {
        let scaffold = Scaffold::new("hello", None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = scaffold.write(dir.path()).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        let project = dir.path().join("hello");
        scaffold.write(&project).unwrap();
        assert!(project.join("tests/conformance.rs").is_file());
        let sdk = project.join("vendor/connector-api");
        let repo_sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connector-api");
        for file in ["Cargo.toml", "src/lib.rs", "src/testkit/checks.rs"] {
            let written = std::fs::read(sdk.join(file)).unwrap();
            assert_eq!(
                written,
                std::fs::read(repo_sdk.join(file)).unwrap(),
                "{file}"
            );
        }
    }

    #[test]
    fn an_sdk_path_is_checked_and_written_relative_to_the_project() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let scaffold = Scaffold::new("hello", Some(&repo.join("connector-api"))).unwrap();
        let beside = std::fs::canonicalize(&repo).unwrap().join("hello");
        let files = scaffold.render(&beside);
        let manifest = &files.iter().find(|(p, _)| *p == "Cargo.toml").unwrap().1;
        let wanted = "dbmon-connector-api = { path = \"../connector-api\" }";
        assert!(manifest.contains(wanted), "{manifest}");

        let err = Scaffold::new("hello", Some(&repo.join("host"))).unwrap_err();
        assert!(err.contains("not the dbmon-connector-api crate"), "{err}");
    }
}
