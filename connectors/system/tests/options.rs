//! Option validation, through `Connector::new` as the host calls it.

use dbmon_connector_api::{ClusterConfig, ConfigError, Connector};
use dbmon_connector_system::{DEFAULT_EXCLUDE_FSTYPES, Options, System};

fn config(options: Options) -> ClusterConfig<Options> {
    ClusterConfig {
        id: "local".into(),
        endpoints: vec![],
        interval_ms: 5000,
        timeout_ms: 2000,
        tls: None,
        auth: None,
        options,
    }
}

fn refused(options: Options) -> ConfigError {
    match <System as Connector>::new(config(options)) {
        Ok(_) => panic!("options were accepted"),
        Err(e) => e,
    }
}

#[test]
fn defaults_are_accepted() {
    assert!(<System as Connector>::new(config(Options::default())).is_ok());
}

#[test]
fn empty_options_block_means_defaults() {
    let options: Options = serde_json::from_str("{}").unwrap();
    assert_eq!(options, Options::default());
    assert_eq!(options.disk_used_degraded_percent, 90.0);
    assert_eq!(options.disk_used_unhealthy_percent, 95.0);
    assert_eq!(options.memory_used_degraded_percent, 90.0);
    assert_eq!(options.load_per_cpu_degraded, 2.0);
    assert!(options.mounts.is_empty());
    assert_eq!(options.exclude_fstypes, DEFAULT_EXCLUDE_FSTYPES);
    assert!(options.exclude_fstypes.iter().any(|t| t == "tmpfs"));
    assert!(options.exclude_fstypes.iter().any(|t| t == "overlay"));
}

#[test]
fn unknown_option_is_refused() {
    let err = serde_json::from_str::<Options>(r#"{"disk_used_degraded_pct": 80}"#).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown field `disk_used_degraded_pct`"),
        "{err}"
    );
}

#[test]
fn percent_out_of_range() {
    let err = refused(Options {
        disk_used_unhealthy_percent: 120.0,
        ..Options::default()
    });
    assert_eq!(
        err,
        ConfigError::at(
            "options.disk_used_unhealthy_percent",
            "must be a percentage from 0 to 100; got 120"
        )
    );

    let err = refused(Options {
        memory_used_degraded_percent: -1.0,
        ..Options::default()
    });
    assert_eq!(err.path, "options.memory_used_degraded_percent");
    assert_eq!(err.message, "must be a percentage from 0 to 100; got -1");

    let err = refused(Options {
        disk_used_degraded_percent: f64::NAN,
        ..Options::default()
    });
    assert_eq!(err.path, "options.disk_used_degraded_percent");
}

#[test]
fn degraded_above_unhealthy() {
    let err = refused(Options {
        disk_used_degraded_percent: 97.0,
        ..Options::default()
    });
    assert_eq!(
        err.to_string(),
        "options.disk_used_degraded_percent: must not be above disk_used_unhealthy_percent (95); got 97"
    );
    // Equal thresholds are allowed: a disk over them is simply unhealthy.
    let equal = Options {
        disk_used_degraded_percent: 95.0,
        ..Options::default()
    };
    assert!(<System as Connector>::new(config(equal)).is_ok());
}

#[test]
fn load_threshold_must_be_positive() {
    for bad in [0.0, -2.0, f64::INFINITY] {
        let err = refused(Options {
            load_per_cpu_degraded: bad,
            ..Options::default()
        });
        assert_eq!(err.path, "options.load_per_cpu_degraded");
        assert!(err.message.starts_with("must be a number above 0"), "{err}");
    }
}

#[test]
fn mounts_must_be_absolute() {
    let err = refused(Options {
        mounts: vec!["/".into(), "data".into()],
        ..Options::default()
    });
    assert_eq!(
        err,
        ConfigError::at(
            "options.mounts[1]",
            "must be an absolute mount point such as /var; got \"data\""
        )
    );
}

#[test]
fn exclude_fstypes_entries_must_be_names() {
    let err = refused(Options {
        exclude_fstypes: vec!["tmpfs".into(), "".into()],
        ..Options::default()
    });
    assert_eq!(err.path, "options.exclude_fstypes[1]");
    let err = refused(Options {
        exclude_fstypes: vec!["tmpfs proc".into()],
        ..Options::default()
    });
    assert_eq!(err.path, "options.exclude_fstypes[0]");
}

#[test]
fn mount_points_are_normalised() {
    let options = Options {
        mounts: vec!["/var/".into(), "//".into(), "/var".into()],
        ..Options::default()
    }
    .validate()
    .unwrap();
    assert_eq!(options.mounts, ["/var", "/"]);
}
