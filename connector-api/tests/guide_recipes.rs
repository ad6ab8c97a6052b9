//! The recipes the guide (README.md) prints: the code there is this code, and it works.

mod rates {
    include!("recipes/rates.rs");
}

use rates::Rates;
use std::time::{Duration, Instant};

#[test]
fn the_guide_prints_the_rates_recipe_as_it_is() {
    let readme = include_str!("../README.md");
    let recipe = include_str!("recipes/rates.rs");
    assert!(
        readme.contains(&format!("```rust\n{recipe}```")),
        "README.md's rates recipe differs from tests/recipes/rates.rs: copy the file into it"
    );
}

#[test]
fn rates_start_after_one_sample_and_skip_resets() {
    let rates = Rates::default();
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    assert_eq!(rates.per_second("q", 100.0, at(0)), None, "first sample");
    assert_eq!(rates.per_second("q", 150.0, at(10)), Some(5.0));
    assert_eq!(
        rates.per_second("other", 7.0, at(10)),
        None,
        "keys are apart"
    );
    // The server restarted: the counter starts again from 0.
    assert_eq!(rates.per_second("q", 20.0, at(20)), None, "a reset");
    assert_eq!(rates.per_second("q", 60.0, at(30)), Some(4.0));
    // No time passed (two samples at one instant), or time ran backwards.
    assert_eq!(rates.per_second("q", 70.0, at(30)), None);
    assert_eq!(rates.per_second("q", 80.0, at(25)), None);
}
