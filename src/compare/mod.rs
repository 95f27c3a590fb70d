//! `heaplab compare`: the suite ([`suite`]) run under every heap strategy and the BEAM
//! ([`driver`]), written as reports, CSV, a Markdown summary ([`summary`]), SVG plots
//! ([`plots`]) and a Chrome trace.
//!
//! # Invariants
//! 1. This module holds only `mod` and `pub use`; each part documents its own invariants.

pub mod driver;
pub mod plots;
pub mod suite;
pub mod summary;

pub use driver::{run, DEFAULT_OUT};
pub use suite::SuiteName;
