//! The workloads heaplab can run (docs/workloads.md describes each), one module per workload.
//!
//! # Invariants
//! 1. [`ALL`] is in name order, so `--help` and error messages list workloads alphabetically.

mod alloc;
mod attributing;
mod big;
mod binaries;
mod churn;
pub(crate) mod clients;
mod exit;
mod gc_copy;
mod large_state;
mod preempt;
mod random;
mod restart;
mod ring;
mod runtime;
mod spawn;

pub(crate) use runtime::{attribution_on, start as start_runtime, time_split_on};

use crate::workload::Workload;

/// Every workload, in name order (Invariant 1).
pub static ALL: &[&dyn Workload] = &[
    &alloc::WORKLOAD,
    &big::WORKLOAD,
    &binaries::WORKLOAD,
    &churn::WORKLOAD,
    &churn::BIG_WORKLOAD,
    &exit::WORKLOAD,
    &gc_copy::WORKLOAD,
    &large_state::WORKLOAD,
    &preempt::WORKLOAD,
    &restart::WORKLOAD,
    &ring::WORKLOAD,
    &spawn::WORKLOAD,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;

    #[test]
    fn names_are_unique_sorted_kebab_case() {
        let names: Vec<&str> = ALL.iter().map(|w| w.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        for name in names {
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
    }

    #[test]
    fn parameters_are_unique_and_defaults_valid() {
        for workload in ALL {
            let mut names: Vec<&str> = workload.params().iter().map(|p| p.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), workload.params().len(), "{}", workload.name());
            let no_assignments: [&str; 0] = [];
            Params::from_assignments(workload.name(), workload.params(), &no_assignments)
                .unwrap_or_else(|e| panic!("{}: {e}", workload.name()));
        }
    }
}
