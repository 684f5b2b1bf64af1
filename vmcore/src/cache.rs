//! A decompressed-page cache that many threads share.
//!
//! Sharded by page frame number so rayon workers rarely contend; each shard evicts first-in-first-out.
//! Analyzers touch a few hundred pages of a dump, many of them repeatedly (page tables, list nodes), so a
//! small bounded cache removes nearly all repeated decompression while keeping memory flat.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

const SHARDS: usize = 32;

struct Shard {
    map: HashMap<u64, Arc<[u8]>>,
    order: VecDeque<u64>,
}

pub(crate) struct PageCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

impl PageCache {
    /// A cache of at most `pages` pages.
    pub(crate) fn new(pages: usize) -> Self {
        let per_shard = pages.div_ceil(SHARDS).max(1);
        PageCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::new(),
                        order: VecDeque::new(),
                    })
                })
                .collect(),
            per_shard,
        }
    }

    fn shard(&self, pfn: u64) -> &Mutex<Shard> {
        &self.shards[(pfn as usize) % SHARDS]
    }

    pub(crate) fn get(&self, pfn: u64) -> Option<Arc<[u8]>> {
        self.shard(pfn)
            .lock()
            .expect("page cache lock")
            .map
            .get(&pfn)
            .cloned()
    }

    pub(crate) fn insert(&self, pfn: u64, page: Arc<[u8]>) {
        let mut s = self.shard(pfn).lock().expect("page cache lock");
        if s.map.insert(pfn, page).is_none() {
            s.order.push_back(pfn);
            if s.order.len() > self.per_shard {
                if let Some(old) = s.order.pop_front() {
                    s.map.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_shared() {
        let c = PageCache::new(64);
        for pfn in 0..10_000u64 {
            c.insert(pfn, Arc::from(vec![pfn as u8; 8]));
        }
        let held: usize = c.shards.iter().map(|s| s.lock().unwrap().map.len()).sum();
        assert!(held <= 64, "{held}");
        assert_eq!(c.get(9_999).as_deref(), Some(&[9_999u64 as u8; 8][..]));
        assert!(c.get(0).is_none());
    }
}
