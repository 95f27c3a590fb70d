//! # heaplab-runtime
//!
//! A multi-core actor runtime on per-process heaps, after the BEAM. Every process is a Rust
//! future that owns a private [`heaplab_gc::Heap`] and a mailbox; one scheduler thread per
//! core runs processes in slices of reductions, steals work when idle and parks when there
//! is none. Messages are copied into fragments on send and attached to the receiver's heap;
//! a process's heap is collected only at its own await points, so a collection pauses one
//! process and no other, and an exiting process's heap is freed at once. Processes match
//! messages with Erlang's patterns ([`receive!`], [`matcher!`], [`match_term!`]; see
//! [`pattern`]), and OTP's behaviours are here as [`gen_server`] and [`supervisor`].
//!
//! ```
//! use heaplab_runtime::heaplab_gc::Pid;
//! use heaplab_runtime::{receive, Runtime};
//!
//! let rt = Runtime::builder().schedulers(2).build().unwrap();
//! let replies = rt
//!     .block_on(|mut cx| async move {
//!         let me = cx.self_pid();
//!         let echo = cx
//!             .spawn(|mut cx| async move {
//!                 loop {
//!                     // Selective receive: {From, N}.
//!                     receive!(cx, {
//!                         {from: Pid, n: i64} => cx.send(from, |h| h.int(n + 1)),
//!                     });
//!                 }
//!             })
//!             .unwrap();
//!         let mut total = 0;
//!         for i in 0..10 {
//!             cx.send(echo, |h| h.tuple(&[h.pid(me), h.int(i)]));
//!             total += receive!(cx, { n: i64 => n });
//!         }
//!         total
//!     })
//!     .unwrap();
//! assert_eq!(replies, 55);
//! ```
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod config;
mod context;
pub mod costs;
mod exit;
pub mod gen_server;
#[allow(unsafe_code)] // the lock-free inbox; see its module doc
mod inbox;
pub mod moments;
pub mod pattern;
mod priority;
mod registry;
mod runtime;
mod scheduler;
mod stats;
pub mod strategy;
pub mod supervisor;
mod table;
mod task;
mod timer;
pub mod trace;
mod trim;

pub use config::{
    Builder, Config, ConfigError, DEFAULT_MAX_PROCESSES, DEFAULT_OVERRUN_THRESHOLD, DEFAULT_REDUCTIONS,
    MAX_SCHEDULERS,
};
pub use context::{Cx, NoProc, NotRegistered, UNALIASED_TAGS};
pub use exit::ExitReason;
pub use heaplab_gc;
pub use priority::{Priority, LOW_SKIPS};
pub use registry::RegisterError;
pub use runtime::{Runtime, SpawnOptions, EXTERNAL_PID, NODE};
pub use stats::{RuntimeStats, SchedulerStats, PROCESS_TABLE_CHUNK};
pub use strategy::{HeapKind, Message};
pub use table::{SpawnError, MAX_TABLE_PROCESSES};
pub use timer::{SLOTS as TIMER_SLOTS, TICK as TIMER_TICK};
pub use trim::TRIM_AFTER_EXITS;
