//! The live data of a churn server, shared by the workloads and the benchmarks: a rooted list
//! of entries `{I, V, [I, V]}` with small integers `I` and `V`.
//!
//! # Invariants
//! 1. One entry occupies exactly [`WORDS_PER_ENTRY`] heap words (no sharing between entries),
//!    so a byte size maps to an entry count.

use heaplab_gc::{Heap, Mu, Root, Term};

/// A heap a closure can run in under a fresh brand: a private [`Heap`], or one process of a
/// shared heap ([`crate::one_heap::OneHeap`]).
pub trait Enter {
    /// Runs `f` under a fresh brand.
    fn enter<R>(&mut self, f: impl for<'h> FnOnce(Mu<'h>) -> R) -> R;
}

impl Enter for Heap {
    fn enter<R>(&mut self, f: impl for<'h> FnOnce(Mu<'h>) -> R) -> R {
        Heap::enter(self, f)
    }
}

/// Heap words of one entry: the tuple `{I, V, [I, V]}` (header + 3 fields), the two cons
/// cells of `[I, V]`, and the state list's cons cell holding the tuple.
pub const WORDS_PER_ENTRY: u64 = 4 + 2 * 2 + 2;

/// Bytes of one heap word.
pub const BYTES_PER_WORD: u64 = 8;

/// Entries built per `enter` closure: long enough that the closure costs nothing, short
/// enough to keep each closure's temporaries small.
pub const BUILD_BATCH: u64 = 10_000;

/// Entries that hold at least `bytes` bytes.
pub fn entries_for(bytes: u64) -> u64 {
    bytes.div_ceil(BYTES_PER_WORD * WORDS_PER_ENTRY)
}

/// One entry `{I, V, [I, V]}`.
pub fn entry<'h>(h: Mu<'h>, key: i64, value: i64) -> Term<'h> {
    let (key, value) = (h.int(key), h.int(value));
    let pair = h.list([key, value]);
    h.tuple(&[key, value, pair])
}

/// A rooted list of `entries` entries (keys counting up from 0, values 0), built in batches
/// of [`BUILD_BATCH`] without collecting: the data lands in the young block and overflow
/// fragments.
pub fn build_state(heap: &mut impl Enter, entries: u64) -> Root {
    let state = heap.enter(|h| h.root(h.nil()));
    let mut built = 0;
    while built < entries {
        let batch = (entries - built).min(BUILD_BATCH);
        heap.enter(|h| {
            let mut list = h.get(&state);
            for key in built..built + batch {
                list = h.cons(entry(h, key as i64, 0), list);
            }
            h.set(&state, list);
        });
        built += batch;
    }
    state
}

/// Replaces the first `count` entries of the state with new tuples holding V+1, on new cons
/// cells; the rest of the list is shared (a churn request's update).
pub fn rewrite_prefix(heap: &mut impl Enter, state: &Root, count: u64) {
    heap.enter(|h| {
        let mut rest = h.get(state);
        let mut prefix = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let Some((head, tail)) = rest.as_cons() else { break };
            prefix.push(head);
            rest = tail;
        }
        for old in prefix.into_iter().rev() {
            let fields = old.as_tuple().expect("state entries are tuples");
            let key = fields[0].as_int().expect("entry keys are integers");
            let value = fields[1].as_int().expect("entry values are integers");
            rest = h.cons(entry(h, key, value + 1), rest);
        }
        h.set(state, rest);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_ten_words_and_rewrites_bump_values() {
        let mut heap = Heap::default();
        let state = build_state(&mut heap, 3);
        heap.collect(heaplab_gc::Collect::Major).unwrap();
        assert_eq!(heap.stats().used_words() as u64, 3 * WORDS_PER_ENTRY);
        rewrite_prefix(&mut heap, &state, 2);
        heap.enter(|h| assert_eq!(h.get(&state).to_string(), "[{2,1,[2,1]},{1,1,[1,1]},{0,0,[0,0]}]"));
        assert_eq!(entries_for(WORDS_PER_ENTRY * BYTES_PER_WORD + 1), 2);
    }
}
