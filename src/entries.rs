//! The live data of a churn server, shared by the workloads and the benchmarks: a rooted list
//! of entries `{I, V, [I, V]}` with small integers `I` and `V`.
//!
//! The functions taking a [`Mu`] work on any heap, a process's inside `Cx::with` included;
//! those taking a `&mut Heap` are for a standalone heap.
//!
//! # Invariants
//! 1. One entry occupies exactly [`WORDS_PER_ENTRY`] heap words (no sharing between entries),
//!    so a byte size maps to an entry count.
//! 2. A rewrite never changes the keys of a state nor their order; only values grow.

use std::ops::Range;

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

/// `list` with one entry `{I, 0, [I, 0]}` consed on its front for each key `I` of `keys`, in
/// order (so the last key ends up first).
pub fn prepend_entries<'h>(h: Mu<'h>, mut list: Term<'h>, keys: Range<u64>) -> Term<'h> {
    for key in keys {
        list = h.cons(entry(h, key as i64, 0), list);
    }
    list
}

/// A churn rewrite: `state` rebuilt on all-new cons cells, the entry of key `key` (if any)
/// replaced by a new entry holding V+1, every other entry reused (Invariant 2).
pub fn rewrite_key<'h>(h: Mu<'h>, state: Term<'h>, key: i64) -> Term<'h> {
    h.list(state.iter_list().map(|old| match old.as_tuple() {
        Some([k, v, _]) if k.as_int() == Some(key) => {
            entry(h, key, v.as_int().expect("entry values are integers") + 1)
        }
        _ => old,
    }))
}

/// `state` with its first `count` entries replaced by new tuples holding V+1, on new cons
/// cells; the rest of the list is shared (Invariant 2).
pub fn rewrite_prefix_of<'h>(h: Mu<'h>, state: Term<'h>, count: u64) -> Term<'h> {
    let mut rest = state;
    let mut prefix = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
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
    rest
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
            let list = prepend_entries(h, h.get(&state), built..built + batch);
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
        let rewritten = rewrite_prefix_of(h, h.get(state), count);
        h.set(state, rewritten);
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

    #[test]
    fn a_key_rewrite_bumps_one_entry_on_new_cells_and_reuses_the_others() {
        let mut heap = Heap::default();
        let state = build_state(&mut heap, 4);
        heap.enter(|h| {
            let before = h.get(&state);
            let after = rewrite_key(h, before, 2);
            let after = rewrite_key(h, after, 2);
            let after = rewrite_key(h, after, 0);
            assert_eq!(after.to_string(), "[{3,0,[3,0]},{2,2,[2,2]},{1,0,[1,0]},{0,1,[0,1]}]");
            // Every cons cell is new; the untouched entries are the same objects.
            let (old_cells, new_cells) = (cells(before), cells(after));
            assert!(old_cells.iter().all(|cell| !new_cells.contains(cell)));
            let (old_heads, new_heads): (Vec<u64>, Vec<u64>) =
                (before.iter_list().map(|e| e.raw()).collect(), after.iter_list().map(|e| e.raw()).collect());
            assert_eq!(new_heads[0], old_heads[0]);
            assert_eq!(new_heads[2], old_heads[2]);
            assert_ne!(new_heads[1], old_heads[1]);
            // A key the state does not hold: a copy of the list, nothing bumped.
            assert_eq!(rewrite_key(h, before, 9).to_string(), before.to_string());
        });
    }

    /// The raw words of the cons cells of `list`.
    fn cells(list: Term<'_>) -> Vec<u64> {
        let mut cells = Vec::new();
        let mut rest = list;
        while rest.is_cons() {
            cells.push(rest.raw());
            rest = rest.as_cons().unwrap().1;
        }
        cells
    }

    #[test]
    fn prepended_entries_count_down_from_the_last_key() {
        let mut heap = Heap::default();
        heap.enter(|h| {
            let list = prepend_entries(h, h.nil(), 0..2);
            let list = prepend_entries(h, list, 2..3);
            assert_eq!(list.to_string(), "[{2,0,[2,0]},{1,0,[1,0]},{0,0,[0,0]}]");
            assert_eq!(rewrite_prefix_of(h, list, 2).to_string(), "[{2,1,[2,1]},{1,1,[1,1]},{0,0,[0,0]}]");
        });
    }
}
