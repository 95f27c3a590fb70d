//! What each operation through a process context costs, in reductions.
//!
//! The BEAM charges one reduction per function call and BIF, and a garbage collection its
//! live words / 10 (erl_gc.c). heaplab has no function calls to count, so it charges the
//! context operations that do the work, scaled so that a slice of 4000 reductions lasts
//! roughly as long as a BEAM slice: allocation by words written, sends by words copied.
//! Larger costs make processes yield sooner (fairer, more switches); smaller ones let a
//! process run longer between switches.

/// Words allocated (or copied) per reduction charged.
pub const WORDS_PER_REDUCTION: u64 = 16;
/// Base cost of one `Cx::with` call.
pub const WITH: u64 = 1;
/// Base cost of a send (lookup, enqueue, wake), plus the copy by words.
pub const SEND: u64 = 4;
/// Cost of examining one message in a receive.
pub const RECEIVE_PER_MESSAGE: u64 = 1;
/// Cost of a spawn.
pub const SPAWN: u64 = 10;
