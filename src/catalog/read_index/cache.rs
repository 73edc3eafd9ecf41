//! Computed answers kept until their index part is replaced; dropped whole when they hold too
//! much, which is simpler than an LRU and rare in practice (answers are small next to the
//! index).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const MAX_ENTRIES: usize = 1024;
/// Items (positions, names) held in all answers of one cache.
const MAX_ITEMS: usize = 4 << 20;

pub struct Cache<T> {
    answers: HashMap<String, Arc<Vec<T>>>,
    items: usize,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Self {
            answers: HashMap::new(),
            items: 0,
        }
    }
}

impl<T> Cache<T> {
    fn insert(&mut self, key: String, answer: Arc<Vec<T>>) {
        if self.answers.len() >= MAX_ENTRIES || self.items + answer.len() > MAX_ITEMS {
            *self = Self::default();
        }
        self.items += answer.len();
        self.answers.insert(key, answer);
    }
}

/// The cached answer for `key`, or `compute`'s, remembered. The lock is not held while
/// computing, so other queries are not held up (two computing the same key is harmless).
pub fn cached<T>(
    cache: &Mutex<Cache<T>>,
    key: &str,
    compute: impl FnOnce() -> Vec<T>,
) -> Arc<Vec<T>> {
    if let Ok(c) = cache.lock()
        && let Some(hit) = c.answers.get(key)
    {
        return hit.clone();
    }
    let answer = Arc::new(compute());
    if let Ok(mut c) = cache.lock() {
        c.insert(key.to_string(), answer.clone());
    }
    answer
}
