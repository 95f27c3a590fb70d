//! A `gen_server`-style behaviour: a process that serves requests one at a time, with
//! synchronous calls (with timeouts), asynchronous casts, replies from anywhere, and an
//! orderly stop, following OTP's `gen_server` module.
//!
//! A server is a value implementing [`GenServer`]; the value is the server's state.
//! [`start_link`] spawns it and runs its `init`; [`call`] sends a request and waits for the
//! reply (or the server's death, or a timeout); [`cast`] sends a request and does not wait;
//! [`reply`] answers a call later or from another process; [`stop`] (or [`stop_with`] a
//! reason and a timeout) asks the server to run `terminate` and exit. Requests and replies are terms built with [`Mu`](heaplab_gc::Mu),
//! and a callback gets its request as a [`Root`](heaplab_gc::Root) on the server's heap.
//!
//! ```
//! use std::time::Duration;
//!
//! use heaplab_runtime::gen_server::{self, CallResult, CastResult, Caller, GenServer};
//! use heaplab_runtime::heaplab_gc::{OwnedTerm, Root};
//! use heaplab_runtime::{Cx, Runtime};
//!
//! /// A counter: the cast `{add, N}` adds N, the call `get` replies with the count.
//! struct Counter(i64);
//!
//! impl GenServer for Counter {
//!     async fn handle_call(&mut self, _cx: &mut Cx, _request: Root, _from: Caller) -> CallResult {
//!         let n = self.0;
//!         CallResult::reply(move |h| h.int(n))
//!     }
//!
//!     async fn handle_cast(&mut self, cx: &mut Cx, request: Root) -> CastResult {
//!         let add = cx.with(|h| match h.get(&request).as_tuple()? {
//!             [_, n] => n.as_int(),
//!             _ => None,
//!         });
//!         self.0 += add.unwrap_or(0);
//!         CastResult::NoReply
//!     }
//! }
//!
//! let rt = Runtime::builder().schedulers(2).build().unwrap();
//! let count = rt
//!     .block_on(|mut cx| async move {
//!         let counter = gen_server::start_link(&mut cx, Counter(0)).await.unwrap().pid().unwrap();
//!         for n in 1..=10 {
//!             gen_server::cast(&mut cx, counter, |h| h.tuple(&[h.atom_named("add"), h.int(n)]));
//!         }
//!         let timeout = Duration::from_secs(5);
//!         gen_server::call(&mut cx, counter, |h| h.atom_named("get"), timeout).await
//!     })
//!     .unwrap();
//! assert_eq!(count, Ok(OwnedTerm::Int(55)));
//! ```

mod behaviour;
mod client;
pub(crate) mod protocol;
mod server;

pub use behaviour::{CallResult, CastResult, GenServer, Init, Reply};
pub(crate) use client::{await_down, await_down_within};
pub use client::{
    call, call_with, cast, reply, stop, stop_with, CallError, Caller, Server, Timeout, DEFAULT_CALL_TIMEOUT,
};
pub(crate) use server::CatchPanic;
pub use server::{
    spawn_failed, start, start_link, start_link_named, start_link_opt, start_named, start_opt, StartOptions,
    StartResult, Started,
};
