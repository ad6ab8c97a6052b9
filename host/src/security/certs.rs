//! `dbmon certs init DIR`: a CA and the server and client certificates it signs, for a first
//! TLS setup; `dbmon token new NAME --roles ...`: a random bearer token and its `auth.tokens`
//! entry.

use crate::config::Role;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use sha2::{Digest, Sha256};
use std::{
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    process::ExitCode,
};

/// `dbmon certs ...`
#[derive(Debug, clap::Subcommand)]
pub enum CertsCommand {
    /// Writes a new CA (ca.pem, ca-key.pem), a server certificate (server.pem, server-key.pem)
    /// and a client certificate (client.pem, client-key.pem) into DIR; never overwrites.
    Init {
        /// The folder to write into (created when missing).
        dir: PathBuf,
        /// Names and addresses the server certificate is valid for (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "localhost,127.0.0.1,::1")]
        hosts: Vec<String>,
        /// Days the certificates are valid.
        #[arg(long, default_value_t = 825)]
        days: u32,
    },
}

/// `dbmon token ...`
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Prints a new random token once, and the `auth.tokens` entry (its SHA-256) to add.
    New {
        /// The token's name in the config, logs and errors.
        name: String,
        /// What it may do: read, command, ingest, admin (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
    },
}

/// The common name of the client certificate `certs init` writes.
const CLIENT_NAME: &str = "dbmon-client";

/// Runs `dbmon certs ...`.
pub fn run_certs(command: CertsCommand) -> ExitCode {
    let CertsCommand::Init { dir, hosts, days } = command;
    match init(&dir, &hosts, days) {
        Ok(()) => {
            print_setup(&dir);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dbmon certs init: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The files `certs init` writes, with whether each is a private key.
const FILES: [(&str, bool); 6] = [
    ("ca.pem", false),
    ("ca-key.pem", true),
    ("server.pem", false),
    ("server-key.pem", true),
    ("client.pem", false),
    ("client-key.pem", true),
];

fn init(dir: &Path, hosts: &[String], days: u32) -> Result<(), String> {
    if days == 0 {
        return Err("--days must be 1 or more".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if let Some((name, _)) = FILES.iter().find(|(name, _)| dir.join(name).exists()) {
        return Err(format!(
            "{} exists: refusing to overwrite (pick an empty folder)",
            dir.join(name).display()
        ));
    }
    let until = time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(days));
    let from = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let fail = |what: &'static str| move |e: rcgen::Error| format!("cannot make the {what}: {e}");

    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(fail("CA"))?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "dbmon CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (ca.not_before, ca.not_after) = (from, until);
    let ca_key = KeyPair::generate().map_err(fail("CA key"))?;
    let ca_cert = ca.self_signed(&ca_key).map_err(fail("CA"))?;
    let ca_pem = ca_cert.pem();
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca, ca_key);

    let leaf = |names: Vec<String>, cn: &str, usage| -> Result<(String, String), String> {
        let mut params = CertificateParams::new(names).map_err(fail("certificate"))?;
        params.distinguished_name.push(DnType::CommonName, cn);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        (params.not_before, params.not_after) = (from, until);
        let key = KeyPair::generate().map_err(fail("key"))?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(fail("certificate"))?;
        Ok((cert.pem(), key.serialize_pem()))
    };
    let first = hosts.first().cloned().unwrap_or_else(|| "localhost".into());
    let (server, server_key) = leaf(hosts.to_vec(), &first, ExtendedKeyUsagePurpose::ServerAuth)?;
    let (client, client_key) = leaf(
        vec![CLIENT_NAME.into()],
        CLIENT_NAME,
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let contents = [ca_pem, ca_key_pem, server, server_key, client, client_key];
    for ((name, secret), text) in FILES.iter().zip(contents) {
        write_new(&dir.join(name), &text, *secret)?;
    }
    Ok(())
}

/// Writes a file that must not exist yet; keys get mode 0600.
fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), String> {
    let mode = if secret { 0o600 } else { 0o644 };
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn print_setup(dir: &Path) {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let at = |name: &str| dir.join(name).display().to_string();
    println!(
        "Wrote ca.pem, ca-key.pem (keep it offline), server.pem, server-key.pem, client.pem and \
         client-key.pem to {}.\n\n\
         Add to the server's config (paths may also be relative to the config file):\n\n\
         tls:\n  cert: {}\n  key: {}\n  client_ca: {}\n  client_auth: required\n\
         auth:\n  certificates:\n    - {{subject: {CLIENT_NAME}, roles: [admin]}}\n\n\
         Then connect with:\n\n  \
         dbmon --server https://127.0.0.1:4000 --ca {} --cert {} --key {} clusters",
        dir.display(),
        at("server.pem"),
        at("server-key.pem"),
        at("ca.pem"),
        at("ca.pem"),
        at("client.pem"),
        at("client-key.pem"),
    );
}

/// Runs `dbmon token ...`.
pub fn run_token(command: TokenCommand) -> ExitCode {
    let TokenCommand::New { name, roles } = command;
    let mut parsed = Vec::new();
    for role in &roles {
        match parse_role(role) {
            Some(role) => parsed.push(role),
            None => {
                eprintln!(
                    "dbmon token new: unknown role '{role}': use read, command, ingest or admin"
                );
                return ExitCode::from(2);
            }
        }
    }
    let mut bytes = [0u8; 32];
    if let Err(e) = getrandom::fill(&mut bytes) {
        eprintln!("dbmon token new: no randomness from the system: {e}");
        return ExitCode::FAILURE;
    }
    let token = hex(&bytes);
    let digest = hex(&Sha256::digest(token.as_bytes()));
    let roles: Vec<&str> = parsed.iter().map(|r| r.as_str()).collect();
    println!(
        "{token}\n\n\
         The token above is shown once: store it in a file only its user can read (the CLI \
         takes it with --token-file FILE). Add to the server's config:\n\n\
         auth:\n  tokens:\n    - {{name: {name}, sha256: {digest}, roles: [{}]}}",
        roles.join(", ")
    );
    ExitCode::SUCCESS
}

fn parse_role(text: &str) -> Option<Role> {
    [Role::Read, Role::Command, Role::Ingest, Role::Admin]
        .into_iter()
        .find(|r| r.as_str() == text.trim())
}

/// Lowercase hex digits of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
