//! Heap sizing: the BEAM's growth table and the rules that pick the next heap size.
//!
//! The table follows erl_gc.c `erts_init_gc`: it starts 12, 38, then each entry is the sum
//! of the two before it plus one (a Fibonacci-like growth, ~1.6x per step) up to 833,026
//! words, then every step grows by 20%. The minimum process heap, 233 words, is one of
//! its entries (erl_vm.h `H_DEFAULT_SIZE`).
//!
//! # Invariants
//! 1. [`next_heap_size`] returns an entry of the table that is at least its argument.
//! 2. The table is strictly increasing.

use std::sync::OnceLock;

/// Default minimum heap size in words (erl_vm.h `H_DEFAULT_SIZE`).
pub const DEFAULT_MIN_HEAP_SIZE: usize = 233;

/// The smallest heap erl_gc.c shrinks to after a fullsweep (erl_vm.h `H_MIN_SIZE`): a
/// major collection leaves a heap of this size or less as it is.
pub(crate) const H_MIN_SIZE: usize = 233;

/// Default minimum binary virtual heap in words (erl_vm.h `VH_DEFAULT_SIZE`).
pub const DEFAULT_MIN_BIN_VHEAP_SIZE: usize = 46422;

/// Default `fullsweep_after` (erl_gc.c / erl_process.c: 65535 minor collections).
pub const DEFAULT_FULLSWEEP_AFTER: u32 = 65535;

/// Where the Fibonacci growth stops and the 20% growth starts (erl_gc.c `erts_init_gc`).
const FIB_LIMIT: usize = 1_000_000;

fn table() -> &'static [usize] {
    static TABLE: OnceLock<Vec<usize>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![12usize, 38];
        loop {
            let n = t[t.len() - 1] + t[t.len() - 2] + 1;
            if n > FIB_LIMIT {
                break;
            }
            t.push(n);
        }
        // 20% steps until the address space is the limit (2^56 words is plenty).
        while *t.last().unwrap() < (1usize << 56) {
            let last = *t.last().unwrap();
            t.push(last + last / 5);
        }
        t
    })
}

/// The smallest table entry that is at least `words`.
pub fn next_heap_size(words: usize) -> usize {
    // Every heap starts at its minimum size, nearly always the default: an entry, found
    // without the search (a chain of dependent loads on each spawn that makes a heap).
    if words == DEFAULT_MIN_HEAP_SIZE {
        return words;
    }
    let t = table();
    let i = t.partition_point(|&s| s < words);
    t[i.min(t.len() - 1)]
}

/// The next binary budget (erl_gc.c `next_vheap_size`) for `vheap` words of off-heap
/// binaries against a budget of `size` words: over three quarters used, grow by the golden
/// ratio (1.618) until it is not; under a quarter used, halve; never below `min`.
pub fn next_vheap_size(vheap: usize, size: usize, min: usize) -> usize {
    let next = if vheap / 3 > size / 4 {
        let mut size = size.max(1);
        while vheap / 3 > size / 4 {
            let grown = (size as f64 * 1.618) as usize;
            if grown <= size {
                break;
            }
            size = grown;
        }
        size
    } else if vheap < size / 4 {
        size / 2
    } else {
        size
    };
    next.max(min)
}

/// The table entry one step above the entry that holds `words` (the old generation is sized
/// one step ahead of the young one).
pub fn step_above(words: usize) -> usize {
    let t = table();
    let i = t.partition_point(|&s| s < words);
    t[(i + 1).min(t.len() - 1)]
}

/// The whole growth table, smallest first.
pub fn heap_size_table() -> &'static [usize] {
    table()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beam_table_entries() {
        let t = heap_size_table();
        assert_eq!(&t[..10], &[12, 38, 51, 90, 142, 233, 376, 610, 987, 1598]);
        assert!(t.contains(&DEFAULT_MIN_HEAP_SIZE));
        assert!(t.contains(&833_026));
        let i = t.iter().position(|&s| s == 833_026).unwrap();
        assert_eq!(t[i + 1], 833_026 + 833_026 / 5);
        assert!(t.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn next_size_is_an_entry_at_least_the_request() {
        assert_eq!(next_heap_size(0), 12);
        assert_eq!(next_heap_size(233), 233);
        assert_eq!(next_heap_size(234), 376);
        assert_eq!(step_above(233), 376);
        let big = next_heap_size(10_000_000);
        assert!((10_000_000..12_000_001).contains(&big));
    }
}
