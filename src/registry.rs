//! The workloads a `heaplab` program knows: the built-in ones ([`crate::workloads::ALL`]) and
//! any a user's own binary adds, so `bench`, `compare` and `--runs` run both alike.
//!
//! A binary of one's own builds a [`Registry`], adds its workloads and calls
//! [`Registry::run_cli`]: that binary *is* a `heaplab` command line with more workloads.
//! `compare` and `--runs` run every measurement in a fresh process of the current
//! executable, so the children find the same workloads.
//!
//! ```no_run
//! # use heaplab::registry::Registry;
//! # fn demo(my_workload: &'static dyn heaplab::workload::Workload) -> std::process::ExitCode {
//! Registry::builtin().with(my_workload).run_cli()
//! # }
//! ```
//!
//! # Invariants
//! 1. Workload names are unique within a registry: [`Registry::with`] refuses a second
//!    workload of a name (a panic: two workloads of one name is a bug in the program, not
//!    bad input).
//! 2. The registry of a program is set once, before the command line runs
//!    ([`Registry::run_cli`]); [`current`] is the built-in one until then.

use std::process::ExitCode;
use std::sync::OnceLock;

use crate::failure::Failure;
use crate::workload::Workload;
use crate::workloads;

/// A set of workloads, in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    workloads: Vec<&'static dyn Workload>,
    /// Names of the workloads added beyond the built-in ones (`compare` runs them too).
    added: Vec<&'static str>,
}

static CURRENT: OnceLock<Registry> = OnceLock::new();

/// The registry of this program (Invariant 2).
pub fn current() -> &'static Registry {
    CURRENT.get_or_init(Registry::builtin)
}

impl Registry {
    /// The built-in workloads.
    pub fn builtin() -> Registry {
        Registry { workloads: workloads::ALL.to_vec(), added: Vec::new() }
    }

    /// This registry and `workload`.
    ///
    /// # Panics
    /// When a workload of that name is already registered (Invariant 1), or the name is not
    /// lower-case kebab case.
    pub fn with(mut self, workload: &'static dyn Workload) -> Registry {
        let name = workload.name();
        assert!(
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "workload name '{name}' is not lower-case kebab case"
        );
        assert!(self.find(name).is_err(), "a workload named '{name}' is already registered");
        self.workloads.push(workload);
        self.added.push(name);
        self
    }

    /// Every workload: the built-in ones in name order, then the added ones.
    pub fn workloads(&self) -> &[&'static dyn Workload] {
        &self.workloads
    }

    /// The names of the workloads added to the built-in ones.
    pub fn added(&self) -> &[&'static str] {
        &self.added
    }

    /// The workload called `name`.
    ///
    /// # Errors
    /// A usage failure naming `name` and the available workloads.
    pub fn find(&self, name: &str) -> Result<&'static dyn Workload, Failure> {
        self.workloads.iter().copied().find(|workload| workload.name() == name).ok_or_else(|| {
            let mut names: Vec<&str> = self.workloads.iter().map(|workload| workload.name()).collect();
            names.sort_unstable();
            Failure::usage(format!("unknown workload '{name}'; available: {}", names.join(", ")))
        })
    }

    /// Installs this registry as the program's (Invariant 2) and runs the `heaplab` command
    /// line from the process's arguments, as the `heaplab` binary does.
    ///
    /// # Panics
    /// When a registry was installed already.
    pub fn run_cli(self) -> ExitCode {
        assert!(CURRENT.set(self).is_ok(), "the registry is installed once, before the command line runs");
        crate::cli::main()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Measurements, RunContext};

    struct Custom;

    impl Workload for Custom {
        fn name(&self) -> &'static str {
            "custom"
        }
        fn summary(&self) -> &'static str {
            "a test double"
        }
        fn run(&self, _: &RunContext) -> Result<Measurements, Failure> {
            Ok(Measurements::default())
        }
    }

    #[test]
    fn added_workloads_are_found_beside_the_builtin_ones() {
        let registry = Registry::builtin().with(&Custom);
        assert_eq!(registry.find("custom").unwrap().name(), "custom");
        assert_eq!(registry.find("ring").unwrap().name(), "ring");
        assert_eq!(registry.added(), ["custom"]);
        let message = registry.find("nope").unwrap_err();
        assert!(message.message().contains("custom, exit"), "{message}");
    }

    #[test]
    #[should_panic(expected = "already registered")]
    fn two_workloads_of_one_name_are_refused() {
        let _ = Registry::builtin().with(&Custom).with(&Custom);
    }
}
