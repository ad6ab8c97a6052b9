//! Sample values and timestamps.

mod common;

use common::one;

fn value(text: &str) -> f64 {
    one(&format!("m {text}\n")).value
}

#[test]
fn special_values() {
    assert!(value("NaN").is_nan());
    assert_eq!(value("+Inf"), f64::INFINITY);
    assert_eq!(value("Inf"), f64::INFINITY);
    assert_eq!(value("-Inf"), f64::NEG_INFINITY);
}

#[test]
fn decimal_forms() {
    assert_eq!(value("0"), 0.0);
    assert_eq!(value("2722.0"), 2722.0);
    assert_eq!(value("-12.5"), -12.5);
    assert_eq!(value("1.681737728e+09"), 1_681_737_728.0);
    assert_eq!(value("1e-05"), 0.00001);
    assert_eq!(value("2.8913562974E+10"), 28_913_562_974.0);
    assert_eq!(value("18446744073709551615"), 2f64.powi(64));
}

#[test]
fn timestamp_is_optional_and_may_be_negative() {
    assert_eq!(one("m 1\n").timestamp_ms, None);
    assert_eq!(
        one("m 1 1395066363000\n").timestamp_ms,
        Some(1_395_066_363_000)
    );
    assert_eq!(one("m{a=\"b\"} 1 -5\n").timestamp_ms, Some(-5));
    assert_eq!(one("m 1\t 0 \n").timestamp_ms, Some(0));
}
