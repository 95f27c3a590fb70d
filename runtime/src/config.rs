//! Runtime configuration: the builder, its defaults and their validation.
//!
//! # Invariants
//! 1. A [`Config`] that reached a running runtime passed [`Config::validate`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use heaplab_gc::{GcEventSink, HeapOptions};

use crate::strategy::HeapKind;
use crate::trace::SliceSink;

/// Reductions a process may spend before it must yield: the modern BEAM's slice
/// (erl_vm.h `CONTEXT_REDS`, 4000). Larger slices mean fewer context switches and longer
/// waits for other processes on the same scheduler.
pub const DEFAULT_REDUCTIONS: u32 = 4000;

/// Most processes alive at once: the BEAM's default `+P` (1,048,576).
pub const DEFAULT_MAX_PROCESSES: usize = 1 << 20;

/// A slice longer than this counts as an overrun: a process that ran this long between two
/// await points kept its scheduler from everyone else. 2 ms is a few BEAM slices.
pub const DEFAULT_OVERRUN_THRESHOLD: Duration = Duration::from_millis(2);

/// Largest scheduler count accepted (the BEAM's limit is 1024).
pub const MAX_SCHEDULERS: usize = 1024;

/// Everything a runtime is started with.
#[derive(Clone)]
pub struct Config {
    /// Scheduler threads (default: the number of cores).
    pub schedulers: usize,
    /// Reductions per time slice.
    pub reductions: u32,
    /// Most processes alive at once.
    pub max_processes: usize,
    /// Options of every process heap (a process may change its own later).
    pub heap: HeapOptions,
    /// The heap strategy: per-process heaps (default) or one shared heap.
    pub heap_kind: HeapKind,
    /// Receives every collection event, with pid and scheduler id.
    pub gc_sink: Option<Arc<dyn GcEventSink>>,
    /// A slice longer than this is recorded as an overrun (when slices are timed).
    pub overrun_threshold: Duration,
    /// Time every slice: its length goes into its scheduler's
    /// [`slice_ns`](crate::SchedulerStats::slice_ns) and past `overrun_threshold` it counts
    /// as an overrun. Default off: a clock read per slice is a tenth of a message hop (as in
    /// tokio, whose poll-time histogram is off unless enabled, and the BEAM, which times
    /// schedules only under `erlang:system_monitor(long_schedule)`).
    pub time_slices: bool,
    /// Give memory back to the OS when a burst of processes has exited (default on; see
    /// [`TRIM_AFTER_EXITS`](crate::TRIM_AFTER_EXITS) for when).
    pub trim_when_idle: bool,
    /// Print the usual panic message when a process panics (default). A panic always ends
    /// only that process, with [`ExitReason::Panic`](crate::ExitReason); with `false` it is
    /// reported to links and monitors alone, which suits tests that crash processes by the
    /// million.
    pub report_panics: bool,
    /// Receives every scheduler slice (see [`crate::trace`]); `None` costs one check per
    /// slice. Defaults to the thread's scoped default
    /// ([`with_default_slice_sink`](crate::trace::with_default_slice_sink)), usually none.
    pub slice_sink: Option<Arc<dyn SliceSink>>,
    /// Time every [`Cx::send`](crate::Cx::send) and add it to its scheduler's
    /// [`send_ns`](crate::SchedulerStats::send_ns) (default off: two clock reads per send).
    pub time_sends: bool,
    /// Stamp when each process is made runnable and when each of its slices begins, and
    /// watch each scheduler thread's off-CPU time, for latency attribution (see
    /// [`crate::moments`]; default off: a clock read per wake-up and per slice).
    pub attribution: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("schedulers", &self.schedulers)
            .field("reductions", &self.reductions)
            .field("max_processes", &self.max_processes)
            .field("heap", &self.heap)
            .field("heap_kind", &self.heap_kind)
            .field("gc_sink", &self.gc_sink.is_some())
            .field("overrun_threshold", &self.overrun_threshold)
            .field("time_slices", &self.time_slices)
            .field("trim_when_idle", &self.trim_when_idle)
            .field("report_panics", &self.report_panics)
            .field("slice_sink", &self.slice_sink.is_some())
            .field("time_sends", &self.time_sends)
            .field("attribution", &self.attribution)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            schedulers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            reductions: DEFAULT_REDUCTIONS,
            max_processes: DEFAULT_MAX_PROCESSES,
            heap: HeapOptions::default(),
            heap_kind: HeapKind::PerProcess,
            gc_sink: None,
            overrun_threshold: DEFAULT_OVERRUN_THRESHOLD,
            time_slices: false,
            trim_when_idle: true,
            report_panics: true,
            slice_sink: crate::trace::default_slice_sink(),
            time_sends: false,
            attribution: false,
        }
    }
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    /// Scheduler count outside 1..=[`MAX_SCHEDULERS`].
    Schedulers(usize),
    /// A zero reduction budget.
    Reductions,
    /// A zero process limit, or one past what a pid can name.
    MaxProcesses(usize),
    /// Invalid heap options.
    Heap(heaplab_gc::ConfigError),
    /// Invalid shared-heap options.
    SharedHeap(heaplab_gc::shared::SharedConfigError),
    /// Invalid message-area options (the hybrid heap).
    MessageArea(heaplab_gc::hybrid::AreaConfigError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Schedulers(n) => {
                write!(f, "schedulers must be between 1 and {MAX_SCHEDULERS}, got {n}")
            }
            ConfigError::Reductions => write!(f, "reductions per slice must be at least 1"),
            ConfigError::MaxProcesses(n) => {
                write!(
                    f,
                    "max_processes must be between 1 and {}, got {n}",
                    crate::table::MAX_TABLE_PROCESSES
                )
            }
            ConfigError::Heap(e) => write!(f, "invalid heap options: {e}"),
            ConfigError::SharedHeap(e) => write!(f, "invalid heap options: {e}"),
            ConfigError::MessageArea(e) => write!(f, "invalid heap options: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks every field (Invariant 1).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_SCHEDULERS).contains(&self.schedulers) {
            return Err(ConfigError::Schedulers(self.schedulers));
        }
        if self.reductions == 0 {
            return Err(ConfigError::Reductions);
        }
        if !(1..=crate::table::MAX_TABLE_PROCESSES).contains(&self.max_processes) {
            return Err(ConfigError::MaxProcesses(self.max_processes));
        }
        self.heap.validate().map_err(ConfigError::Heap)?;
        if let HeapKind::Shared(opts) = &self.heap_kind {
            opts.validate(self.schedulers).map_err(ConfigError::SharedHeap)?;
            if self.heap.max_heap_size.is_some() {
                return Err(ConfigError::Heap(heaplab_gc::ConfigError::MaxHeapSizeShared));
            }
        }
        if let HeapKind::Hybrid(opts) = &self.heap_kind {
            opts.validate().map_err(ConfigError::MessageArea)?;
        }
        Ok(())
    }
}

/// Builds a [`Runtime`](crate::Runtime).
///
/// ```
/// let rt = heaplab_runtime::Runtime::builder().schedulers(2).reductions(2000).build().unwrap();
/// assert_eq!(rt.config().schedulers, 2);
/// let err = heaplab_runtime::Runtime::builder().schedulers(0).build().unwrap_err();
/// assert_eq!(err.to_string(), "schedulers must be between 1 and 1024, got 0");
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    config: Config,
}

impl Builder {
    /// Scheduler threads.
    pub fn schedulers(mut self, n: usize) -> Self {
        self.config.schedulers = n;
        self
    }

    /// Reductions per slice.
    pub fn reductions(mut self, n: u32) -> Self {
        self.config.reductions = n;
        self
    }

    /// Most processes alive at once.
    pub fn max_processes(mut self, n: usize) -> Self {
        self.config.max_processes = n;
        self
    }

    /// Options of every process heap.
    pub fn heap_options(mut self, heap: HeapOptions) -> Self {
        self.config.heap = heap;
        self
    }

    /// Minimum heap size in words.
    pub fn min_heap_size(mut self, words: usize) -> Self {
        self.config.heap.min_heap_size = words;
        self
    }

    /// Minor collections between fullsweeps.
    pub fn fullsweep_after(mut self, n: u32) -> Self {
        self.config.heap.fullsweep_after = n;
        self
    }

    /// Largest heap a process may have, in words (`None`: unlimited).
    pub fn max_heap_size(mut self, words: Option<usize>) -> Self {
        self.config.heap.max_heap_size = words;
        self
    }

    /// The heap strategy ([`HeapKind::PerProcess`] by default).
    pub fn heap_kind(mut self, kind: HeapKind) -> Self {
        self.config.heap_kind = kind;
        self
    }

    /// Where collection events go.
    pub fn gc_sink(mut self, sink: Arc<dyn GcEventSink>) -> Self {
        self.config.gc_sink = Some(sink);
        self
    }

    /// The slice length recorded as an overrun; turns slice timing on.
    pub fn overrun_threshold(mut self, d: Duration) -> Self {
        self.config.overrun_threshold = d;
        self.config.time_slices = true;
        self
    }

    /// Whether idle schedulers give memory back after a burst ([`Config::trim_when_idle`]).
    pub fn trim_when_idle(mut self, on: bool) -> Self {
        self.config.trim_when_idle = on;
        self
    }

    /// Whether every slice is timed ([`Config::time_slices`]).
    pub fn time_slices(mut self, on: bool) -> Self {
        self.config.time_slices = on;
        self
    }

    /// Whether a panicking process prints the usual panic message.
    pub fn report_panics(mut self, on: bool) -> Self {
        self.config.report_panics = on;
        self
    }

    /// Where scheduler slices go (see [`crate::trace`]).
    pub fn slice_sink(mut self, sink: Arc<dyn SliceSink>) -> Self {
        self.config.slice_sink = Some(sink);
        self
    }

    /// Whether sends are timed (see [`Config::time_sends`]).
    pub fn time_sends(mut self, on: bool) -> Self {
        self.config.time_sends = on;
        self
    }

    /// Whether moments are stamped for latency attribution (see [`Config::attribution`]).
    pub fn attribution(mut self, on: bool) -> Self {
        self.config.attribution = on;
        self
    }

    /// The configuration so far.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Validates the configuration and starts the scheduler threads.
    pub fn build(self) -> Result<crate::Runtime, ConfigError> {
        self.config.validate()?;
        Ok(crate::Runtime::start(self.config))
    }
}
