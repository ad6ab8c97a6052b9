use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Instant,
};

/// The previous sample of every counter, kept in the instance between collections.
#[derive(Default)]
pub struct Rates {
    previous: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Rates {
    /// The per-second increase of counter `key` (say `"db1:3306 questions"`) since the last
    /// sample, which `value` read at `at` replaces. `None` for the first sample, after a reset
    /// (the counter went down: the server restarted), and when no time passed.
    pub fn per_second(&self, key: &str, value: f64, at: Instant) -> Option<f64> {
        // Never held across an `.await`: the lock is taken and released here.
        let mut previous = self.previous.lock().unwrap_or_else(PoisonError::into_inner);
        let (last, last_at) = previous.insert(key.to_string(), (value, at))?;
        let seconds = at.checked_duration_since(last_at)?.as_secs_f64();
        if value < last || seconds <= 0.0 {
            return None;
        }
        Some((value - last) / seconds)
    }
}
