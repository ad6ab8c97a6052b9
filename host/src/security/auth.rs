//! Who may call what: every gRPC method requires a role, a bearer token or a client
//! certificate brings roles. [`AuthLayer`] checks each call before it is routed, so a path
//! no service serves is refused (or let through to UNIMPLEMENTED) the same way.

use crate::{config::Role, listener::ConnInfo};
use sha2::{Digest, Sha256};
use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};
use subtle::ConstantTimeEq;
use tonic::{
    Status,
    codegen::http::{Request, Response},
};
use tower::{Layer, Service};

/// A set of roles; `admin` holds every other.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles(u8);

impl Roles {
    /// The set of `roles`.
    pub fn of(roles: &[Role]) -> Roles {
        Roles(roles.iter().fold(0, |bits, r| bits | Self::bit(*r)))
    }

    fn bit(role: Role) -> u8 {
        1 << role as u8
    }

    /// Whether a call that requires `role` is allowed.
    pub fn allow(self, role: Role) -> bool {
        self.0 & (Self::bit(role) | Self::bit(Role::Admin)) != 0
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all = [Role::Read, Role::Command, Role::Ingest, Role::Admin];
        let names: Vec<&str> = all
            .into_iter()
            .filter(|r| self.0 & Self::bit(*r) != 0)
            .map(Role::as_str)
            .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// `auth:` resolved: the tokens by digest, the certificates by subject.
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// `auth.tokens`.
    pub tokens: Vec<TokenRule>,
    /// `auth.certificates`.
    pub certificates: Vec<CertificateRule>,
}

/// One configured token: its name and the SHA-256 of the secret (never the secret itself).
#[derive(Debug, Clone)]
pub struct TokenRule {
    /// The name that logs and errors use.
    pub name: String,
    /// SHA-256 of the token.
    pub sha256: [u8; 32],
    /// What it may do.
    pub roles: Roles,
}

/// One configured client certificate subject.
#[derive(Debug, Clone)]
pub struct CertificateRule {
    /// Common name alone, or the whole RFC 4514 subject.
    pub subject: String,
    /// What it may do.
    pub roles: Roles,
}

/// The role a gRPC method requires; `None` for the probes (health, reflection), which stay
/// open to anyone who can connect.
pub fn required_role(path: &str) -> Option<Role> {
    let open = ["/grpc.health.v1.Health/", "/grpc.reflection."];
    if open.iter().any(|prefix| path.starts_with(prefix)) {
        return None;
    }
    Some(if path == "/dbmon.v1.Monitor/RunCommand" {
        Role::Command
    } else if path.starts_with("/dbmon.v1.Monitor/") {
        Role::Read
    } else if path.starts_with("/dbmon.ingest.v1.Ingest/") {
        Role::Ingest
    } else {
        Role::Admin
    })
}

/// The client certificate of a TLS connection, as [`AuthSettings::certificates`] matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// The subject as RFC 4514 writes it: `CN=ops,O=example`.
    pub subject: String,
    /// The (first) common name, when there is one.
    pub common_name: Option<String>,
}

impl PeerCertificate {
    /// The subject of the DER certificate `der`; `None` when it cannot be parsed (rustls
    /// verified it, so that does not happen in practice).
    pub fn from_der(der: &[u8]) -> Option<PeerCertificate> {
        use x509_parser::objects::{oid_registry, oid2abbrev};
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let name = cert.subject();
        let rdns: Vec<String> = name
            .iter_rdn()
            .map(|rdn| {
                let attrs: Vec<String> = rdn
                    .iter()
                    .map(|attr| {
                        let kind = oid2abbrev(attr.attr_type(), oid_registry())
                            .map_or_else(|_| attr.attr_type().to_id_string(), str::to_string);
                        format!("{kind}={}", attr.as_str().unwrap_or("?"))
                    })
                    .collect();
                attrs.join("+")
            })
            .collect();
        // RFC 4514: the last RDN of the sequence comes first.
        let subject = rdns.into_iter().rev().collect::<Vec<_>>().join(",");
        let common_name = name
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_string);
        Some(PeerCertificate {
            subject,
            common_name,
        })
    }

    /// Whether a configured `subject` (a CN alone, or a whole subject) names this certificate.
    pub fn matches(&self, subject: &str) -> bool {
        if subject.contains('=') {
            let normalized: String = subject
                .split(',')
                .map(|rdn| {
                    let (kind, value) = rdn.split_once('=').unwrap_or((rdn, ""));
                    format!("{}={}", kind.trim().to_ascii_uppercase(), value.trim())
                })
                .collect::<Vec<_>>()
                .join(",");
            normalized == self.subject
        } else {
            self.common_name.as_deref() == Some(subject)
        }
    }
}

/// Who made a call, for the handlers (a request extension): the configured token name or
/// the certificate subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A bearer token, by its configured name.
    Token(String),
    /// A client certificate, by the configured subject it matched.
    Certificate(String),
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Token(name) => write!(f, "token '{name}'"),
            Identity::Certificate(subject) => write!(f, "certificate '{subject}'"),
        }
    }
}

impl AuthSettings {
    /// Who presented `bearer` (the token after `Bearer `) or `peer`, with their roles; or the
    /// UNAUTHENTICATED status that says what is missing.
    pub fn authenticate(
        &self,
        bearer: Option<&[u8]>,
        peer: Option<&PeerCertificate>,
    ) -> Result<(Identity, Roles), Status> {
        if let Some(token) = bearer {
            let digest: [u8; 32] = Sha256::digest(token).into();
            // Every digest is compared, in constant time, whichever matches.
            let mut found = None;
            for rule in &self.tokens {
                if bool::from(rule.sha256.ct_eq(&digest)) {
                    found = Some(rule);
                }
            }
            return match found {
                Some(rule) => Ok((Identity::Token(rule.name.clone()), rule.roles)),
                None => Err(Status::unauthenticated("unknown token")),
            };
        }
        if let Some(peer) = peer {
            if let Some(rule) = self.certificates.iter().find(|r| peer.matches(&r.subject)) {
                return Ok((Identity::Certificate(rule.subject.clone()), rule.roles));
            }
            return Err(Status::unauthenticated(format!(
                "no token, and the client certificate '{}' is not in auth.certificates: send \
                 'authorization: Bearer TOKEN' (dbmon --token-file ...)",
                peer.subject
            )));
        }
        Err(Status::unauthenticated(
            "no token: send 'authorization: Bearer TOKEN' (dbmon --token-file ...)",
        ))
    }

    /// The identity of a call to `path`, or the status that refuses it.
    fn check(
        &self,
        path: &str,
        bearer: Option<&[u8]>,
        peer: Option<&PeerCertificate>,
    ) -> Result<Option<Identity>, Status> {
        let Some(role) = required_role(path) else {
            return Ok(None);
        };
        let (identity, roles) = self.authenticate(bearer, peer)?;
        if roles.allow(role) {
            Ok(Some(identity))
        } else {
            Err(Status::permission_denied(format!(
                "{identity} lacks the role '{}' that {path} requires (it has: {roles})",
                role.as_str()
            )))
        }
    }
}

/// The token of an `authorization: Bearer TOKEN` header (gRPC calls and HTTP requests alike).
pub fn bearer<B>(request: &Request<B>) -> Option<&[u8]> {
    let value = request.headers().get("authorization")?.as_bytes();
    let scheme = value.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| value[7..].trim_ascii())
}

/// Wraps every service of a server with [`Authorize`]: with settings, the auth check; with or
/// without, the connection's addresses as tonic's `TcpConnectInfo` (so that
/// `Request::remote_addr` works on TLS connections too) and its client certificate as a
/// [`PeerCertificate`] extension.
#[derive(Debug, Clone, Default)]
pub struct AuthLayer {
    settings: Option<Arc<AuthSettings>>,
}

impl AuthLayer {
    /// Checks calls against `settings`; `None` lets every call through (no `auth:`).
    pub fn new(settings: Option<Arc<AuthSettings>>) -> AuthLayer {
        AuthLayer { settings }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Authorize<S> {
        Authorize {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// A service whose calls are checked by [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct Authorize<S> {
    inner: S,
    settings: Option<Arc<AuthSettings>>,
}

impl<S, B, R> Service<Request<B>> for Authorize<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let info = request.extensions().get::<ConnInfo>().cloned();
        let peer = info.as_ref().and_then(|i| i.client.clone());
        if let Some(info) = info {
            request.extensions_mut().insert(info.tcp);
        }
        if let Some(settings) = &self.settings {
            let path = request.uri().path();
            match settings.check(path, bearer(&request), peer.as_deref()) {
                Ok(Some(identity)) => {
                    tracing::debug!("{path}: {identity}");
                    request.extensions_mut().insert(identity);
                }
                Ok(None) => {}
                Err(status) => {
                    let from = info_peer(&request);
                    tracing::info!(
                        "refused {path} from {from}: {:?}: {}",
                        status.code(),
                        status.message()
                    );
                    return Box::pin(std::future::ready(Ok(status.into_http())));
                }
            }
        }
        if let Some(peer) = peer {
            request.extensions_mut().insert(peer);
        }
        Box::pin(self.inner.call(request))
    }
}

fn info_peer<B>(request: &Request<B>) -> String {
    request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|i| i.remote_addr())
        .map_or_else(|| "an unknown peer".into(), |a| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_require_their_roles() {
        assert_eq!(required_role("/grpc.health.v1.Health/Check"), None);
        assert_eq!(
            required_role("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            None
        );
        assert_eq!(
            required_role("/dbmon.v1.Monitor/RunCommand"),
            Some(Role::Command)
        );
        assert_eq!(required_role("/dbmon.v1.Monitor/Watch"), Some(Role::Read));
        assert_eq!(
            required_role("/dbmon.ingest.v1.Ingest/Push"),
            Some(Role::Ingest)
        );
        assert_eq!(required_role("/dbmon.admin.v1.X/Y"), Some(Role::Admin));
        assert_eq!(required_role("/other.Service/M"), Some(Role::Admin));
    }

    #[test]
    fn admin_holds_every_role() {
        let admin = Roles::of(&[Role::Admin]);
        assert!(admin.allow(Role::Command) && admin.allow(Role::Ingest));
        let read = Roles::of(&[Role::Read]);
        assert!(read.allow(Role::Read) && !read.allow(Role::Command));
        assert_eq!(
            Roles::of(&[Role::Read, Role::Ingest]).to_string(),
            "read,ingest"
        );
    }

    #[test]
    fn tokens_are_known_by_digest_and_refused_by_name() {
        let settings = AuthSettings {
            tokens: vec![TokenRule {
                name: "viewer".into(),
                sha256: Sha256::digest(b"s3cret").into(),
                roles: Roles::of(&[Role::Read]),
            }],
            certificates: Vec::new(),
        };
        let path = "/dbmon.v1.Monitor/RunCommand";
        let denied = settings.check(path, Some(b"s3cret"), None).unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        assert!(denied.message().contains("token 'viewer'"), "{denied:?}");
        assert!(denied.message().contains("'command'"), "{denied:?}");
        assert!(!denied.message().contains("s3cret"));
        let unknown = settings.check(path, Some(b"guess"), None).unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::Unauthenticated);
        let read = settings.check("/dbmon.v1.Monitor/ListClusters", Some(b"s3cret"), None);
        assert_eq!(read.unwrap(), Some(Identity::Token("viewer".into())));
    }

    #[test]
    fn subjects_match_by_common_name_or_whole() {
        let peer = PeerCertificate {
            subject: "CN=ops,O=example".into(),
            common_name: Some("ops".into()),
        };
        assert!(peer.matches("ops"));
        assert!(peer.matches("CN=ops, O=example"));
        assert!(peer.matches("cn=ops,o=example"));
        assert!(!peer.matches("CN=ops"));
        assert!(!peer.matches("dev"));
    }
}
