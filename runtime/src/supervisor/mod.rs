//! Supervisors, after OTP's `supervisor`: processes that start children, watch them through
//! links, restart them by a strategy when they exit, give up past a restart intensity, and
//! stop them in reverse start order.
//!
//! A supervisor is started with [`start_link`] from [`Flags`] (strategy, intensity,
//! period, automatic shutdown) and a list of [`ChildSpec`]s (id, start function, restart
//! type, shutdown, type, significance), or with [`start_link_with`] from a [`Supervisor`]
//! callback whose `init` gives them, as OTP's `Module:init/1` does. It traps exits, so a
//! child's exit reaches it as `{'EXIT', Child, Reason}`; a supervisor is itself a
//! [`GenServer`](crate::gen_server::GenServer) and can be the child of another, which makes
//! supervision trees. Requests name a child with a [`ChildRef`] (an id or a pid) and fail
//! with a [`SupervisorError`], [`SupervisorError::NoProc`] when the supervisor is gone.
//!
//! ```
//! use std::time::Duration;
//!
//! use heaplab_runtime::supervisor::{self, ChildSpec, Flags, Strategy};
//! use heaplab_runtime::{ExitReason, Runtime};
//!
//! let rt = Runtime::builder().schedulers(2).build().unwrap();
//! let restarted = rt
//!     .block_on(|mut cx| async move {
//!         // A worker that waits for any message and then crashes.
//!         let crashing = ChildSpec::worker("crashing", |cx| {
//!             cx.spawn_link(|mut cx| async move {
//!                 cx.receive(|_, _| Some(())).await;
//!                 cx.exit::<()>(ExitReason::atom("crash")).await
//!             })
//!         });
//!         let flags = Flags::new(Strategy::OneForOne);
//!         let sup = supervisor::start_link(&mut cx, flags, vec![crashing]).await.unwrap().pid().unwrap();
//!         let first = supervisor::which_children(&mut cx, sup).await.unwrap()[0].child.pid().unwrap();
//!         cx.send(first, |h| h.atom_named("crash"));
//!         // The supervisor restarts it: a new pid for the same id.
//!         loop {
//!             let now = supervisor::which_children(&mut cx, sup).await.unwrap()[0].child.pid();
//!             if now.is_some_and(|pid| pid != first) {
//!                 break true;
//!             }
//!             cx.sleep(Duration::from_millis(1)).await;
//!         }
//!     })
//!     .unwrap();
//! assert!(restarted);
//! ```

mod api;
mod behaviour;
mod children;
mod intensity;
mod parcel;
mod protocol;
mod server;
mod shutdown;
mod spec;
mod strategy;

pub use api::{
    count_children, delete_child, restart_child, start_child, start_dynamic_child, start_link,
    start_link_named, start_link_named_with, start_link_with, terminate_child, which_children, ChildCounts,
    ChildInfo, ChildRef, SupervisorError,
};
pub use behaviour::{Supervisor, SupervisorInit};
pub use children::ChildState;
pub use spec::{
    start_fn, AutoShutdown, ChildSpec, ChildType, Flags, Restart, Shutdown, StartFn, StartFuture, Strategy,
    DEFAULT_INTENSITY, DEFAULT_PERIOD, DEFAULT_WORKER_SHUTDOWN,
};
