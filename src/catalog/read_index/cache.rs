//! Computed answers kept until their index part is replaced; dropped whole when they hold too
//! much, which is simpler than an LRU and rare in practice (answers are small next to the
//! index).
use std::any::Any;
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

/// What the API made of an answer (a page's bytes and headers), by the request that named it,
/// kept with the snapshot the answer came from: they go when it is replaced, that is when the
/// catalog changes. Dropped whole when over `MAX_RENDERED_ENTRIES` or `MAX_RENDERED_BYTES`.
#[derive(Default)]
pub struct Rendered {
    answers: HashMap<String, Arc<dyn Any + Send + Sync>>,
    bytes: usize,
}

const MAX_RENDERED_ENTRIES: usize = 4096;
/// About 250 pages of 300 images, or thousands of default pages.
const MAX_RENDERED_BYTES: usize = 32 << 20;

impl Rendered {
    pub fn get<R: Any + Send + Sync>(&self, key: &str) -> Option<Arc<R>> {
        self.answers.get(key)?.clone().downcast().ok()
    }

    /// Remembers `answer`, which holds about `bytes` bytes.
    pub fn insert<R: Any + Send + Sync>(&mut self, key: String, answer: Arc<R>, bytes: usize) {
        let bytes = bytes + key.len();
        if bytes > MAX_RENDERED_BYTES {
            return;
        }
        if self.answers.len() >= MAX_RENDERED_ENTRIES || self.bytes + bytes > MAX_RENDERED_BYTES {
            *self = Self::default();
        }
        self.bytes += bytes;
        self.answers.insert(key, answer);
    }
}
