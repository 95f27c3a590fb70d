//! Registered process names (`register/2`, `whereis/1`).
//!
//! # Invariants
//! 1. A name maps to at most one pid and a pid has at most one name; an exiting process's
//!    name is removed before its pid can be reused.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use heaplab_gc::{Atom, Pid};

/// Why a name could not be registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterError {
    /// Another process holds the name.
    NameTaken(Atom, Pid),
    /// This process is registered under another name already.
    AlreadyNamed(Atom),
    /// The atom `undefined` cannot be registered.
    Undefined,
    /// The process to be named is not alive (or is exiting).
    NoProc(Pid),
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::NameTaken(name, pid) => write!(f, "name {name} is registered by {pid}"),
            RegisterError::AlreadyNamed(name) => write!(f, "process is registered as {name} already"),
            RegisterError::Undefined => write!(f, "the name 'undefined' cannot be registered"),
            RegisterError::NoProc(pid) => write!(f, "{pid} is not alive"),
        }
    }
}

impl std::error::Error for RegisterError {}

#[derive(Default)]
pub(crate) struct Registry {
    names: RwLock<HashMap<Atom, Pid>>,
}

impl Registry {
    pub(crate) fn register(&self, name: Atom, pid: Pid) -> Result<(), RegisterError> {
        if name == Atom::UNDEFINED {
            return Err(RegisterError::Undefined);
        }
        let mut names = self.names.write().unwrap_or_else(|e| e.into_inner());
        if let Some(&holder) = names.get(&name) {
            return Err(RegisterError::NameTaken(name, holder));
        }
        names.insert(name, pid);
        Ok(())
    }

    pub(crate) fn whereis(&self, name: Atom) -> Option<Pid> {
        self.names.read().unwrap_or_else(|e| e.into_inner()).get(&name).copied()
    }

    /// Removes `name` if `pid` holds it.
    pub(crate) fn unregister(&self, name: Atom, pid: Pid) -> bool {
        let mut names = self.names.write().unwrap_or_else(|e| e.into_inner());
        if names.get(&name) == Some(&pid) {
            names.remove(&name);
            true
        } else {
            false
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.names.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}
