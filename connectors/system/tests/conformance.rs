//! The SDK's conformance kit: what the host relies on, through the stable-ABI calls it makes.
//! The connector reads this machine's /proc and mounts; it has no endpoints.

use dbmon_connector_api::testkit::Conformance;
use dbmon_connector_system::System;

#[test]
fn passes_the_conformance_kit() {
    Conformance::cluster(&[], "{}")
        .invalid_options(
            r#"{"disk_used_degraded_percent": 150}"#,
            "options.disk_used_degraded_percent",
        )
        .invalid_options(
            r#"{"disk_used_degraded_percent": 96, "disk_used_unhealthy_percent": 95}"#,
            "options.disk_used_degraded_percent",
        )
        .invalid_options(
            r#"{"load_per_cpu_degraded": 0}"#,
            "options.load_per_cpu_degraded",
        )
        .invalid_options(r#"{"mounts": ["var"]}"#, "options.mounts[0]")
        .invalid_options(r#"{"exclude_fstypes": [""]}"#, "options.exclude_fstypes[0]")
        .invalid_options(r#"{"mount": ["/"]}"#, "options.mount")
        .run_in_process::<System>()
        .assert_passed();
}
