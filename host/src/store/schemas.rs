//! One copy of each distinct schema, shared by every report and cluster that has it.

use super::report::Schema;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

/// One copy of each distinct schema, shared by every report and cluster that has it.
#[derive(Debug, Default)]
pub struct SchemaPool {
    by_fingerprint: Mutex<HashMap<u64, Weak<Schema>>>,
}

impl SchemaPool {
    /// The one copy of `schema`: the previous report's when it is the same (the common case),
    /// else the pool's, else `schema` itself, which joins the pool.
    pub fn share(&self, schema: Schema, previous: Option<&Arc<Schema>>) -> Arc<Schema> {
        if let Some(previous) = previous.filter(|p| ***p == schema) {
            return Arc::clone(previous);
        }
        let key = schema.fingerprint();
        let mut pool = self
            .by_fingerprint
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = pool
            .get(&key)
            .and_then(Weak::upgrade)
            .filter(|s| **s == schema)
        {
            return shared;
        }
        let schema = Arc::new(schema);
        if pool.len() > 1024 {
            pool.retain(|_, w| w.strong_count() > 0);
        }
        pool.insert(key, Arc::downgrade(&schema));
        schema
    }

    /// Takes a schema read back from disk into the pool.
    pub fn adopt(&self, schema: Arc<Schema>) {
        let mut pool = self
            .by_fingerprint
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        pool.insert(schema.fingerprint(), Arc::downgrade(&schema));
    }
}
