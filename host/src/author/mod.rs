//! The connector author's commands: `dbmon connector new` writes a project that builds a
//! loadable connector, `dbmon connector check` says whether `serve` would load a library and
//! runs the conformance kit against it.

pub use check::CheckArgs;
pub use scaffold::Scaffold;

use std::{path::PathBuf, process::ExitCode};

/// `println!`, except that once the reader went away (`| head`) the rest of the output is
/// dropped quietly instead of a panic; the command still ends with its own exit status.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::author::say_line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// Set when standard output can no longer be written.
static OUTPUT_GONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// One line on standard output, unless it is gone (see [`say!`]).
pub(crate) fn say_line(line: std::fmt::Arguments<'_>) {
    use std::{io::Write as _, sync::atomic::Ordering};
    if OUTPUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
        OUTPUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("dbmon: cannot write the output: {e}");
        }
    }
}

mod check;
mod scaffold;
mod sdk;

/// `dbmon connector ...`
#[derive(Debug, clap::Subcommand)]
#[deny(missing_docs)]
pub enum ConnectorCommand {
    /// Writes a new connector project: a cargo crate with a working example, README,
    /// example.yaml and the conformance test.
    New {
        /// The connector's name, as clusters will write it in `connector:` ([a-z][a-z0-9_-]*).
        name: String,
        /// Folder to create (must not exist). By default, `./NAME`.
        #[arg(long)]
        path: Option<PathBuf>,
        /// Depend on this connector-api checkout (named relative to the project when they share
        /// a folder) instead of the SDK this dbmon carries, which is by default copied into the
        /// project as vendor/connector-api/.
        #[arg(long)]
        sdk_path: Option<PathBuf>,
    },
    /// Loads a connector library exactly as `serve` would and says whether it would load;
    /// with `--config`, also runs the conformance kit against that cluster.
    Check {
        /// The library (`lib*.so`).
        file: PathBuf,
        /// A YAML file with one cluster entry, or a host config whose first cluster using this
        /// connector is checked (its `plugins:` trust rules apply too).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Accept files writable by group or others or owned by another user, as
        /// `plugins.insecure: true` does.
        #[arg(long)]
        insecure: bool,
    },
}

/// Runs one `dbmon connector` command; `json` prints one JSON object instead of text.
pub fn run(command: ConnectorCommand, json: bool) -> ExitCode {
    match command {
        ConnectorCommand::New {
            name,
            path,
            sdk_path,
        } => new(&name, path, sdk_path.as_deref()),
        ConnectorCommand::Check {
            file,
            config,
            insecure,
        } => {
            let args = CheckArgs {
                file,
                config,
                insecure,
                json,
            };
            match check::run(&args) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => fail(&e),
            }
        }
    }
}

/// `dbmon connector new`.
fn new(name: &str, path: Option<PathBuf>, sdk_path: Option<&std::path::Path>) -> ExitCode {
    let dir = path.unwrap_or_else(|| PathBuf::from(name));
    let scaffold = match Scaffold::new(name, sdk_path).and_then(|s| s.write(&dir).map(|()| s)) {
        Ok(scaffold) => scaffold,
        Err(e) => return fail(&e),
    };
    let sdk = match &scaffold.sdk {
        sdk::Sdk::Vendored => format!(
            "the SDK it builds against, connector-api {}, is in {}",
            dbmon_connector_api::SDK_VERSION,
            dir.join(sdk::VENDOR_DIR).display()
        ),
        sdk::Sdk::Checkout(path) => format!("it builds against the SDK in {}", path.display()),
    };
    say!(
        "created connector '{name}' in {}; {sdk}\n\nnext:\n  cd {}\n  cargo test\n  cargo build --release\n  dbmon connector check target/release/{} --config example.yaml",
        dir.display(),
        dir.display(),
        scaffold.library_file()
    );
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("dbmon: {message}");
    ExitCode::from(2)
}
