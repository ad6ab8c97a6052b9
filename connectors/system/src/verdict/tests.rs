use super::*;

#[test]
fn disk_levels_and_reasons() {
    let options = Options::default();
    assert_eq!(
        disk("/", 90.0, &options),
        None,
        "at the threshold is not over it"
    );
    assert_eq!(
        disk("/", 91.24, &options),
        Some(Finding {
            level: Level::Degraded,
            reason: "disk / is 91.2 % full (threshold 90 %)".into(),
        })
    );
    assert_eq!(
        disk("/data", 97.0, &options),
        Some(Finding {
            level: Level::Unhealthy,
            reason: "disk /data is 97.0 % full (threshold 95 %)".into(),
        })
    );
}

#[test]
fn disk_uses_configured_thresholds() {
    let options = Options {
        disk_used_degraded_percent: 50.5,
        disk_used_unhealthy_percent: 60.0,
        ..Options::default()
    };
    let finding = disk("/var", 55.0, &options).unwrap();
    assert_eq!(finding.level, Level::Degraded);
    assert_eq!(
        finding.reason,
        "disk /var is 55.0 % full (threshold 50.5 %)"
    );
    assert_eq!(
        disk("/var", 61.0, &options).unwrap().level,
        Level::Unhealthy
    );
    assert_eq!(disk("/var", 50.0, &options), None);
}

#[test]
fn memory_over_threshold() {
    let options = Options::default();
    assert_eq!(memory(89.9, &options), None);
    assert_eq!(
        memory(93.44, &options),
        Some(Finding {
            level: Level::Degraded,
            reason: "memory is 93.4 % used (threshold 90 %)".into(),
        })
    );
}

#[test]
fn load_is_judged_per_cpu() {
    let options = Options::default();
    assert_eq!(load(7.9, 4, &options), None);
    assert_eq!(
        load(8.4, 4, &options),
        Some(Finding {
            level: Level::Degraded,
            reason: "load1 is 8.40 on 4 CPUs, 2.10 per CPU (threshold 2 per CPU)".into(),
        })
    );
    // An unknown CPU count must not divide by zero.
    assert!(load(2.5, 0, &options).is_some());
}
