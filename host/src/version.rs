//! What `dbmon --version` says: the host's version and the connector ABIs it loads.

use std::sync::OnceLock;

/// The ABI of the connectors this host loads natively (`dbmon_connector_api::ffi::ABI_VERSION`).
pub const ABI_VERSION: &str = dbmon_connector_api::ffi::ABI_VERSION;

/// The last contract-1 ABI (connector-api 1.x) the host's adapter knows.
pub const CONTRACT_1_VERSION: &str = dbmon_connector_api_v1::ffi::API_VERSION;

/// The text after `dbmon ` in `dbmon --version`, such as `1.0.0 (connector ABI 2.x, host has
/// 2.1.0; and 1.x connectors through the contract-1 adapter, up to 1.1.0)`.
pub fn text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} (connector ABI {}.x, host has {ABI_VERSION}; and {}.x connectors through the \
             contract-1 adapter, up to {CONTRACT_1_VERSION})",
            env!("CARGO_PKG_VERSION"),
            major(ABI_VERSION),
            major(CONTRACT_1_VERSION),
        )
    })
}

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_host_version_and_both_abi_majors() {
        let text = text();
        assert!(
            text.starts_with(concat!(env!("CARGO_PKG_VERSION"), " (")),
            "{text}"
        );
        assert!(text.contains("connector ABI 2.x"), "{text}");
        assert!(
            text.contains("1.x connectors through the contract-1 adapter"),
            "{text}"
        );
    }
}
