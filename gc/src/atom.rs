//! The global atom table: atoms are interned once and never collected, as on the BEAM.
//!
//! # Invariants
//! 1. An [`Atom`] index is always a valid index into the table: atoms are only created by
//!    interning, and the table never shrinks.
//! 2. Two atoms are equal exactly when their names are equal.

use std::collections::HashMap;
use std::fmt;
use std::sync::{OnceLock, RwLock};

/// Most atoms the table holds; the BEAM's default `+t` limit (erl_atom_table.c, 1,048,576).
pub const MAX_ATOMS: usize = 1 << 20;

/// An interned atom: a small index into the global table.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Atom(u32);

struct Table {
    names: Vec<&'static str>,
    index: HashMap<&'static str, u32>,
}

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Table { names: Vec::new(), index: HashMap::new() };
        // Pre-intern the atoms the runtime uses constantly so their indices are stable.
        for name in PREDEFINED {
            let i = t.names.len() as u32;
            t.names.push(name);
            t.index.insert(name, i);
        }
        RwLock::new(t)
    })
}

const PREDEFINED: [&str; 8] = ["false", "true", "ok", "error", "undefined", "normal", "kill", "killed"];

/// Error returned when the atom table is full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtomTableFull;

impl fmt::Display for AtomTableFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "atom table full ({MAX_ATOMS} atoms)")
    }
}

impl std::error::Error for AtomTableFull {}

impl Atom {
    /// `false`.
    pub const FALSE: Atom = Atom(0);
    /// `true`.
    pub const TRUE: Atom = Atom(1);
    /// `ok`.
    pub const OK: Atom = Atom(2);
    /// `error`.
    pub const ERROR: Atom = Atom(3);
    /// `undefined`.
    pub const UNDEFINED: Atom = Atom(4);
    /// `normal`.
    pub const NORMAL: Atom = Atom(5);
    /// `kill`.
    pub const KILL: Atom = Atom(6);
    /// `killed`.
    pub const KILLED: Atom = Atom(7);

    /// Interns `name`, returning the existing atom when there is one.
    ///
    /// # Panics
    /// When the table already holds [`MAX_ATOMS`] atoms; see [`Atom::try_new`].
    pub fn new(name: &str) -> Atom {
        Atom::try_new(name).expect("atom table full")
    }

    /// Interns `name`, or reports that the table is full.
    pub fn try_new(name: &str) -> Result<Atom, AtomTableFull> {
        if let Some(&i) = table().read().unwrap_or_else(|e| e.into_inner()).index.get(name) {
            return Ok(Atom(i));
        }
        let mut t = table().write().unwrap_or_else(|e| e.into_inner());
        if let Some(&i) = t.index.get(name) {
            return Ok(Atom(i));
        }
        if t.names.len() >= MAX_ATOMS {
            return Err(AtomTableFull);
        }
        // Atoms live for the whole program (Invariant 1), so leaking the name is the point.
        let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let i = t.names.len() as u32;
        t.names.push(name);
        t.index.insert(name, i);
        Ok(Atom(i))
    }

    /// The atom's name.
    pub fn name(self) -> &'static str {
        table().read().unwrap_or_else(|e| e.into_inner()).names[self.0 as usize]
    }

    /// The atom's index in the table.
    pub fn index(self) -> u32 {
        self.0
    }

    /// The atom with this index, if one exists.
    pub fn from_index(index: u32) -> Option<Atom> {
        let t = table().read().unwrap_or_else(|e| e.into_inner());
        ((index as usize) < t.names.len()).then_some(Atom(index))
    }

    /// The atom with this index, without consulting the table: for indices read back from
    /// terms, which only hold indices of interned atoms (Invariant 1).
    #[inline]
    pub(crate) const fn from_term_index(index: u32) -> Atom {
        Atom(index)
    }

    /// Whether the name must be quoted in Erlang syntax.
    pub fn needs_quotes(self) -> bool {
        let name = self.name();
        let mut chars = name.chars();
        match chars.next() {
            Some(c) if c.is_ascii_lowercase() => {}
            _ => return true,
        }
        !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
    }
}

impl From<bool> for Atom {
    fn from(b: bool) -> Atom {
        if b {
            Atom::TRUE
        } else {
            Atom::FALSE
        }
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.needs_quotes() {
            f.write_str("'")?;
            for c in self.name().chars() {
                match c {
                    '\'' => f.write_str("\\'")?,
                    '\\' => f.write_str("\\\\")?,
                    '\n' => f.write_str("\\n")?,
                    c => write!(f, "{c}")?,
                }
            }
            f.write_str("'")
        } else {
            f.write_str(self.name())
        }
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialOrd for Atom {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Atoms order by name, as in Erlang term order.
impl Ord for Atom {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        if self.0 == other.0 {
            return std::cmp::Ordering::Equal;
        }
        self.name().cmp(other.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent_and_predefined_are_stable() {
        assert_eq!(Atom::new("ok"), Atom::OK);
        assert_eq!(Atom::new("killed"), Atom::KILLED);
        let a = Atom::new("some_atom_for_test");
        assert_eq!(Atom::new("some_atom_for_test"), a);
        assert_eq!(a.name(), "some_atom_for_test");
        assert_eq!(Atom::from_index(a.index()), Some(a));
    }

    #[test]
    fn quoting() {
        assert_eq!(Atom::new("ok").to_string(), "ok");
        assert_eq!(Atom::new("EXIT").to_string(), "'EXIT'");
        assert_eq!(Atom::new("hello world").to_string(), "'hello world'");
        assert_eq!(Atom::new("").to_string(), "''");
        assert!(Atom::new("a") < Atom::new("b"));
    }
}
