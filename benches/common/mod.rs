//! Data shapes shared by the gc benchmarks.
//!
//! Live data is the state of a churn server, as in the `gc-copy` workload: a rooted list of
//! entries `{I, V, [I, V]}` with small integers `I` and `V`. One entry is
//! [`WORDS_PER_ENTRY`] heap words, so a size in bytes maps to an entry count directly.
//!
//! Each benchmark binary includes this module and uses part of it.
#![allow(dead_code)]

use heaplab_gc::Heap;

// Each benchmark binary uses part of these (see the module doc).
#[allow(unused_imports)]
pub use heaplab::entries::{
    build_state, entries_for, entry, rewrite_prefix, BYTES_PER_WORD, WORDS_PER_ENTRY,
};

/// Live-data sizes of the collection benchmarks: (label, bytes).
pub const LIVE_SIZES: [(&str, u64); 3] = [("1KiB", 1 << 10), ("1MiB", 1 << 20), ("16MiB", 16 << 20)];

/// Bytes in use on `heap` (young + old + fragments).
pub fn used_bytes(heap: &Heap) -> u64 {
    heap.stats().used_words() as u64 * BYTES_PER_WORD
}
