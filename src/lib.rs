//! heaplab measures per-process garbage collection in the BEAM's memory model: every
//! lightweight process owns a private heap with a generational copying collector, and the
//! whole heap is released at once when the process exits. This crate holds the workloads,
//! the measurement (HdrHistograms of every pause, a log of every collection), the reports
//! (`heaplab.report/1` JSON, CSV of raw data, Chrome traces) and the `heaplab` command line
//! on top of `heaplab-gc` (terms, heaps, collectors) and `heaplab-runtime` (schedulers,
//! processes).
//!
//! A run is: check the command line against a workload's declared parameters, run the
//! workload with a GC log attached to every heap it creates, and build a report from what it
//! measured plus the log:
//!
//! ```
//! use heaplab::cli::{self, Command};
//! use heaplab::{bench, report};
//!
//! let cli = cli::parse(["heaplab", "bench", "exit", "--set", "heap_mb=1", "--set", "repeats=1"])
//!     .expect("valid arguments");
//! let Command::Bench(args) = cli.command else { unreachable!() };
//! let (workload, context) = bench::prepare(&args).expect("known workload and parameters");
//! let run = bench::measure(workload, &context).expect("the workload runs");
//! assert_eq!(run.report.schema, report::SCHEMA);
//! assert!(run.report.metrics["drop_ns_one_object"] > 0.0);
//! assert!(run.report.gc.major >= 2, "both heaps were compacted before being dropped");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attribution;
pub mod beam;
pub mod bench;
pub mod child;
pub mod cli;
pub mod compare;
pub mod csv;
pub mod entries;
pub mod failure;
pub mod gc_log;
pub mod go;
pub mod histogram;
pub mod interrupt;
pub mod jvm;
pub mod machine;
pub mod one_heap;
pub mod params;
pub mod peer;
pub mod provenance;
pub mod registry;
pub mod report;
pub mod reproduce;
pub mod runs;
pub mod slice_log;
pub mod stats;
pub mod strategy;
pub mod table;
pub mod trace;
pub mod workload;
pub mod workloads;

pub use failure::Failure;
pub use report::Report;
