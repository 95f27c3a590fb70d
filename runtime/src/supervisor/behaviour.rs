//! The [`Supervisor`] callback: what OTP's `Module:init/1` of a supervisor is, a value whose
//! `init` gives the supervisor's flags and children when the supervisor starts.
//!
//! [`start_link`](super::start_link) takes the flags and children directly, which is the
//! same as a callback returning them; a callback can decide at start time, read its
//! environment, or refuse to start.
//!
//! # Invariants
//! 1. `init` runs once, in the new supervisor process, after it traps exits and before any
//!    child starts; what it returns decides the start as OTP's `supervisor:init/1` decides
//!    it: `Ok` starts the children, `Ignore` makes the start return
//!    [`Started::Ignore`](crate::gen_server::Started::Ignore) and the process exit
//!    `normal`, `Error(Term)` fails the start with `{bad_return, {Module, init, Term}}`,
//!    and a panic fails it with `{panic, Message}` (OTP: the exception's reason). In every
//!    failed case the supervisor process exits with that reason before the start returns.

use std::future::Future;

use heaplab_gc::{Atom, OwnedTerm};

use crate::context::Cx;

use super::spec::{ChildSpec, Flags};

/// What a supervisor callback's `init` returns (`{ok, {SupFlags, [ChildSpec]}}`, `ignore`,
/// or anything else).
#[derive(Debug)]
pub enum SupervisorInit {
    /// Start with these flags and these children, in this order.
    Ok(Flags, Vec<ChildSpec>),
    /// Do not start: the start returns `ignore`.
    Ignore,
    /// Do not start: the start fails with `{bad_return, {Module, init, Term}}`, where Module
    /// is the name of the callback's type (OTP's reason for an `init` that returned
    /// anything else).
    Error(OwnedTerm),
}

/// A supervisor's callback module: its `init` gives the flags and children (OTP's
/// `supervisor` behaviour, `Module:init/1`). Start it with
/// [`start_link_with`](super::start_link_with).
///
/// ```
/// use heaplab_runtime::supervisor::{self, ChildSpec, Flags, SupervisorInit, Strategy, Supervisor};
/// use heaplab_runtime::{Cx, Runtime};
///
/// /// Starts `workers` idle workers, or refuses to start with none.
/// struct Pool {
///     workers: usize,
/// }
///
/// impl Supervisor for Pool {
///     async fn init(&mut self, _cx: &mut Cx) -> SupervisorInit {
///         if self.workers == 0 {
///             return SupervisorInit::Ignore;
///         }
///         let worker = |i: usize| {
///             ChildSpec::worker(&format!("worker_{i}"), |cx| {
///                 cx.spawn_link(|mut cx| async move { cx.receive(|_, _| Some(())).await })
///             })
///         };
///         SupervisorInit::Ok(Flags::new(Strategy::OneForOne), (0..self.workers).map(worker).collect())
///     }
/// }
///
/// let rt = Runtime::builder().schedulers(2).build().unwrap();
/// let (ignored, children) = rt
///     .block_on(|mut cx| async move {
///         let ignored = supervisor::start_link_with(&mut cx, Pool { workers: 0 }).await;
///         let pool = supervisor::start_link_with(&mut cx, Pool { workers: 3 }).await;
///         let counts = supervisor::count_children(&mut cx, pool.unwrap().pid().unwrap()).await;
///         (ignored, counts.unwrap().active)
///     })
///     .unwrap();
/// assert_eq!(ignored, Ok(heaplab_runtime::gen_server::Started::Ignore));
/// assert_eq!(children, 3);
/// ```
pub trait Supervisor: Send + 'static {
    /// Runs in the new supervisor before any child starts (Invariant 1).
    fn init(&mut self, cx: &mut Cx) -> impl Future<Output = SupervisorInit> + Send;
}

/// The atom that stands for a callback type in `{bad_return, {Module, init, Term}}`: the
/// type's own name, without its path or generic arguments.
pub(crate) fn module_name<C>() -> Atom {
    let full = std::any::type_name::<C>();
    let plain = full.split('<').next().unwrap_or(full);
    Atom::new(plain.rsplit("::").next().unwrap_or(plain))
}

/// The callback of a supervisor started with flags and children given up front.
pub(crate) struct Given(pub(crate) Option<(Flags, Vec<ChildSpec>)>);

impl Supervisor for Given {
    async fn init(&mut self, _cx: &mut Cx) -> SupervisorInit {
        match self.0.take() {
            Some((flags, children)) => SupervisorInit::Ok(flags, children),
            None => unreachable!("init runs once (Invariant 1)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pool<T>(T);

    #[test]
    fn a_module_name_is_the_type_name_alone() {
        assert_eq!(module_name::<Given>().name(), "Given");
        assert_eq!(module_name::<Pool<Vec<u8>>>().name(), "Pool");
    }
}
