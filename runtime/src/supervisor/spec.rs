//! What a supervisor is told: its flags ([`Flags`]) and its children's specifications
//! ([`ChildSpec`]), with OTP's names and defaults.
//!
//! | OTP | here | default |
//! |-----|------|---------|
//! | `strategy` | [`Strategy`] | `one_for_one` |
//! | `intensity` | [`Flags::intensity`] | 1 |
//! | `period` | [`Flags::period`] | 5 s |
//! | `auto_shutdown` | [`AutoShutdown`] | `never` |
//! | child `id` | [`ChildSpec::id`] (an atom) | — |
//! | child `start` | [`ChildSpec::start`] ([`StartFn`]) | — |
//! | child `restart` | [`Restart`] | `permanent` |
//! | child `significant` | [`ChildSpec::significant`] | `false` |
//! | child `shutdown` | [`Shutdown`] | 5000 ms for a worker, `infinity` for a supervisor |
//! | child `type` | [`ChildType`] | `worker` |
//!
//! # Invariants
//! 1. A start function spawns the child linked to the process that runs it (the
//!    supervisor), as `spawn_link` or `gen_server:start_link` do; a child that is not
//!    linked is never noticed when it dies.
//! 2. A spec is a value that can be cloned and kept: restarting a child runs the same start
//!    function again (with the same arguments, for a dynamic child).
//! 3. A supervisor runs only with flags that [`Flags::check`] accepts and specs that
//!    [`ChildSpec::check`] accepts under them; it refuses others with OTP's reasons.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use heaplab_gc::{Atom, OwnedTerm, Pid};

use crate::context::Cx;
use crate::gen_server::{self, GenServer, StartResult, Started};
use crate::table::SpawnError;

/// How a supervisor restarts children when one exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Restart only the child that exited.
    OneForOne,
    /// Terminate every other child (in reverse start order), then restart them all.
    OneForAll,
    /// Terminate the children started after the one that exited (in reverse order), then
    /// restart it and them.
    RestForOne,
    /// One child specification as a template; children are added with
    /// [`start_dynamic_child`](super::start_dynamic_child), each with its own arguments, and
    /// restarted one by one.
    SimpleOneForOne,
}

/// A supervisor's flags (`sup_flags()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags {
    /// The restart strategy.
    pub strategy: Strategy,
    /// Most restarts allowed within `period`; one more and the supervisor terminates all
    /// children and exits with `shutdown`.
    pub intensity: u32,
    /// The window in which restarts are counted; it must not be zero (OTP's period is a
    /// positive number of seconds; here any positive duration).
    pub period: Duration,
    /// Whether the supervisor shuts itself down when significant children end.
    pub auto_shutdown: AutoShutdown,
}

/// When a supervisor shuts itself down (with reason `shutdown`) because significant
/// children ended on their own (OTP's `auto_shutdown`, "Automatic Shutdown"): a child that
/// ends and is not restarted, that is a transient child ending `normal`, `shutdown` or
/// `{shutdown, _}`, or a temporary child ending any way. Children stopped by the supervisor
/// itself ([`terminate_child`](super::terminate_child), a restart of siblings) do not count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AutoShutdown {
    /// Never; a significant child is refused.
    #[default]
    Never,
    /// When any significant child ends.
    AnySignificant,
    /// When the last running significant child ends.
    AllSignificant,
}

/// OTP's default restart intensity: one restart...
pub const DEFAULT_INTENSITY: u32 = 1;
/// ...within five seconds.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(5);
/// A worker's default shutdown time (OTP: 5000 ms).
pub const DEFAULT_WORKER_SHUTDOWN: Duration = Duration::from_secs(5);

impl Flags {
    /// The strategy with OTP's default intensity (1) and period (5 s).
    pub fn new(strategy: Strategy) -> Flags {
        Flags {
            strategy,
            intensity: DEFAULT_INTENSITY,
            period: DEFAULT_PERIOD,
            auto_shutdown: AutoShutdown::Never,
        }
    }

    /// Sets the intensity.
    pub fn intensity(mut self, restarts: u32) -> Flags {
        self.intensity = restarts;
        self
    }

    /// Sets the period.
    pub fn period(mut self, period: Duration) -> Flags {
        self.period = period;
        self
    }

    /// Sets the automatic shutdown.
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Flags {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// Whether a supervisor can run with these flags; `Err` is OTP's reason for refusing
    /// them (`supervisor:init/1`, `check_flags`), which a start fails with as
    /// `{supervisor_data, Reason}`: `{invalid_period, 0}` for a zero period (in
    /// milliseconds). The intensity is a `u32`, so OTP's `{invalid_intensity, _}` (a
    /// negative intensity) cannot be written.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use heaplab_runtime::supervisor::Flags;
    ///
    /// assert!(Flags::default().check().is_ok());
    /// let zero = Flags::default().period(Duration::ZERO).check().unwrap_err();
    /// assert_eq!(zero.to_string(), "{invalid_period,0}");
    /// ```
    pub fn check(&self) -> Result<(), OwnedTerm> {
        if self.period.is_zero() {
            let millis = i64::try_from(self.period.as_millis()).unwrap_or(i64::MAX);
            return Err(OwnedTerm::tuple(vec![OwnedTerm::atom("invalid_period"), OwnedTerm::Int(millis)]));
        }
        Ok(())
    }
}

impl Default for Flags {
    fn default() -> Self {
        Flags::new(Strategy::OneForOne)
    }
}

/// When a child that exited is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Restart {
    /// Always.
    Permanent,
    /// Only after an abnormal exit: not after `normal`, `shutdown` or `{shutdown, _}`.
    Transient,
    /// Never; the child's spec is removed when it exits.
    Temporary,
}

/// How a child is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// `exit(Child, kill)` at once.
    BrutalKill,
    /// `exit(Child, shutdown)`, then `exit(Child, kill)` if it has not exited after this long.
    Timeout(Duration),
    /// `exit(Child, shutdown)`, then wait for as long as it takes (for supervisors).
    Infinity,
}

/// Whether a child is a worker or a supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildType {
    /// Any process that is not a supervisor.
    Worker,
    /// A supervisor.
    Supervisor,
}

/// The future a start function returns.
pub type StartFuture<'a> = Pin<Box<dyn Future<Output = StartResult> + Send + 'a>>;

/// Starts a child, linked to the calling process (Invariant 1), given the extra arguments of
/// a dynamic child (`[]` for a static one).
pub type StartFn = Arc<dyn for<'a> Fn(&'a mut Cx, &'a OwnedTerm) -> StartFuture<'a> + Send + Sync>;

/// A [`StartFn`] from a closure (the function fixes the closure's higher-ranked signature,
/// which inference alone does not find):
/// `start_fn(|cx, _args| Box::pin(async move { ... }))`.
pub fn start_fn<F>(f: F) -> StartFn
where
    F: for<'a> Fn(&'a mut Cx, &'a OwnedTerm) -> StartFuture<'a> + Send + Sync + 'static,
{
    Arc::new(f)
}

/// A child specification (`child_spec()`).
#[derive(Clone)]
pub struct ChildSpec {
    /// The child's name within its supervisor.
    pub id: Atom,
    /// How to start it.
    pub start: StartFn,
    /// When to restart it.
    pub restart: Restart,
    /// How to stop it.
    pub shutdown: Shutdown,
    /// Worker or supervisor.
    pub child_type: ChildType,
    /// Whether the child counts for the supervisor's [`AutoShutdown`].
    pub significant: bool,
}

impl ChildSpec {
    /// A permanent worker started by `start` (an asynchronous start function).
    pub fn new(id: &str, start: StartFn) -> ChildSpec {
        ChildSpec {
            id: Atom::new(id),
            start,
            restart: Restart::Permanent,
            shutdown: Shutdown::Timeout(DEFAULT_WORKER_SHUTDOWN),
            child_type: ChildType::Worker,
            significant: false,
        }
    }

    /// A permanent worker that `spawn` starts, typically `|cx| cx.spawn_link(body)`.
    pub fn worker<F>(id: &str, spawn: F) -> ChildSpec
    where
        F: Fn(&mut Cx) -> Result<Pid, SpawnError> + Send + Sync + 'static,
    {
        ChildSpec::worker_with_args(id, move |cx, _| spawn(cx))
    }

    /// As [`ChildSpec::worker`], for a template whose children get arguments
    /// ([`Strategy::SimpleOneForOne`]).
    pub fn worker_with_args<F>(id: &str, spawn: F) -> ChildSpec
    where
        F: Fn(&mut Cx, &OwnedTerm) -> Result<Pid, SpawnError> + Send + Sync + 'static,
    {
        let start = start_fn(move |cx, args| {
            let started = spawn(cx, args).map(Started::Pid).map_err(|e| gen_server::spawn_failed(&e));
            Box::pin(std::future::ready(started))
        });
        ChildSpec::new(id, start)
    }

    /// A permanent worker that is the [`GenServer`] `make` returns, started with
    /// [`gen_server::start_link`].
    pub fn gen_server<S, F>(id: &str, make: F) -> ChildSpec
    where
        S: GenServer,
        F: Fn() -> S + Send + Sync + 'static,
    {
        ChildSpec::gen_server_with_args(id, move |_| make())
    }

    /// As [`ChildSpec::gen_server`], registered under `name` (a restarted child takes the
    /// name again).
    pub fn gen_server_named<S, F>(id: &str, name: Atom, make: F) -> ChildSpec
    where
        S: GenServer,
        F: Fn() -> S + Send + Sync + 'static,
    {
        let start = start_fn(move |cx, _| Box::pin(gen_server::start_link_named(cx, name, make())));
        ChildSpec::new(id, start)
    }

    /// As [`ChildSpec::gen_server`], for a template whose children get arguments.
    pub fn gen_server_with_args<S, F>(id: &str, make: F) -> ChildSpec
    where
        S: GenServer,
        F: Fn(&OwnedTerm) -> S + Send + Sync + 'static,
    {
        let start = start_fn(move |cx, args| Box::pin(gen_server::start_link(cx, make(args))));
        ChildSpec::new(id, start)
    }

    /// A supervisor child: a nested supervisor with these flags and children, shut down
    /// with `infinity` (it stops its own children first).
    pub fn supervisor(id: &str, flags: Flags, children: Vec<ChildSpec>) -> ChildSpec {
        let start = start_fn(move |cx, _| Box::pin(super::start_link(cx, flags, children.clone())));
        ChildSpec {
            shutdown: Shutdown::Infinity,
            child_type: ChildType::Supervisor,
            ..ChildSpec::new(id, start)
        }
    }

    /// A supervisor child whose flags and children the callback `make` returns gives in its
    /// `init` ([`start_link_with`](super::start_link_with)), shut down with `infinity`.
    pub fn supervisor_with<C, F>(id: &str, make: F) -> ChildSpec
    where
        C: super::Supervisor,
        F: Fn() -> C + Send + Sync + 'static,
    {
        let start = start_fn(move |cx, _| Box::pin(super::start_link_with(cx, make())));
        ChildSpec {
            shutdown: Shutdown::Infinity,
            child_type: ChildType::Supervisor,
            ..ChildSpec::new(id, start)
        }
    }

    /// Sets the restart type.
    pub fn restart(mut self, restart: Restart) -> ChildSpec {
        self.restart = restart;
        self
    }

    /// Sets the shutdown.
    pub fn shutdown(mut self, shutdown: Shutdown) -> ChildSpec {
        self.shutdown = shutdown;
        self
    }

    /// Sets the child type.
    pub fn child_type(mut self, child_type: ChildType) -> ChildSpec {
        self.child_type = child_type;
        self
    }

    /// Makes the child significant, or not, for the supervisor's [`AutoShutdown`]. A
    /// significant child must be transient or temporary.
    pub fn significant(mut self, significant: bool) -> ChildSpec {
        self.significant = significant;
        self
    }

    /// Whether a supervisor with `auto_shutdown` accepts this spec; `Err` is OTP's reason
    /// (`supervisor:check_childspec`): a significant child needs an automatic shutdown
    /// (`{bad_combination, [{auto_shutdown, never}, {significant, true}]}`) and a restart
    /// type other than permanent (`{bad_combination, [{restart, permanent}, {significant,
    /// true}]}`).
    pub fn check(&self, auto_shutdown: AutoShutdown) -> Result<(), OwnedTerm> {
        let pair =
            |key: &str, value: &str| OwnedTerm::tuple(vec![OwnedTerm::atom(key), OwnedTerm::atom(value)]);
        let bad = |key: &str, value: &str| {
            let combination = OwnedTerm::list(vec![pair(key, value), pair("significant", "true")]);
            Err(OwnedTerm::tuple(vec![OwnedTerm::atom("bad_combination"), combination]))
        };
        if !self.significant {
            Ok(())
        } else if auto_shutdown == AutoShutdown::Never {
            bad("auto_shutdown", "never")
        } else if self.restart == Restart::Permanent {
            bad("restart", "permanent")
        } else {
            Ok(())
        }
    }
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("child_type", &self.child_type)
            .field("significant", &self.significant)
            .finish_non_exhaustive()
    }
}
