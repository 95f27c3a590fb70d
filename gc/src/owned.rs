//! [`OwnedTerm`]: a term as an ordinary Rust value, for tests, snapshots and messages built
//! outside any heap.
//!
//! # Invariants
//! 1. A `List` has at least one item and its tail is never itself a `List` (constructors
//!    normalise), so every term has exactly one owned form and derived equality is deep
//!    equality.

use crate::atom::Atom;
use crate::layout::HEAP_BINARY_LIMIT;
use crate::mutator::Mu;
use crate::term::{Pid, Ref, Term, View};

/// An owned term.
#[derive(Clone, Debug)]
pub enum OwnedTerm {
    /// `[]`.
    Nil,
    /// An integer.
    Int(i64),
    /// An atom.
    Atom(Atom),
    /// A reference.
    Ref(Ref),
    /// A pid.
    Pid(Pid),
    /// A float.
    Float(f64),
    /// A non-empty list of items ending in `tail` (`Nil` for a proper list).
    List(Vec<OwnedTerm>, Box<OwnedTerm>),
    /// A tuple.
    Tuple(Vec<OwnedTerm>),
    /// A binary.
    Binary(Vec<u8>),
}

impl OwnedTerm {
    /// A proper list.
    pub fn list(items: Vec<OwnedTerm>) -> OwnedTerm {
        OwnedTerm::improper_list(items, OwnedTerm::Nil)
    }

    /// A list of `items` ending in `tail`, normalised (Invariant 1).
    pub fn improper_list(mut items: Vec<OwnedTerm>, tail: OwnedTerm) -> OwnedTerm {
        let tail = match tail {
            OwnedTerm::List(more, rest) => {
                items.extend(more);
                *rest
            }
            t => t,
        };
        if items.is_empty() {
            tail
        } else {
            OwnedTerm::List(items, Box::new(tail))
        }
    }

    /// An atom by name.
    pub fn atom(name: &str) -> OwnedTerm {
        OwnedTerm::Atom(Atom::new(name))
    }

    /// A tuple.
    pub fn tuple(items: Vec<OwnedTerm>) -> OwnedTerm {
        OwnedTerm::Tuple(items)
    }

    /// Words this term occupies on a heap when copied without sharing (refc binaries count
    /// their handle only).
    pub fn heap_words(&self) -> usize {
        let mut words = 0;
        let mut stack = vec![self];
        while let Some(t) = stack.pop() {
            words += match t {
                OwnedTerm::Nil | OwnedTerm::Atom(_) | OwnedTerm::Pid(_) | OwnedTerm::Ref(_) => 0,
                OwnedTerm::Int(i) => usize::from(Term::small(*i).is_none()) * 2,
                OwnedTerm::Float(_) => 2,
                OwnedTerm::List(items, tail) => {
                    stack.extend(items.iter());
                    stack.push(tail);
                    2 * items.len()
                }
                OwnedTerm::Tuple(items) => {
                    stack.extend(items.iter());
                    1 + items.len()
                }
                OwnedTerm::Binary(b) if b.len() <= HEAP_BINARY_LIMIT => {
                    1 + crate::layout::heap_binary_payload(b.len())
                }
                OwnedTerm::Binary(_) => 3,
            };
        }
        words
    }
}

impl From<i64> for OwnedTerm {
    fn from(i: i64) -> Self {
        OwnedTerm::Int(i)
    }
}

impl From<Atom> for OwnedTerm {
    fn from(a: Atom) -> Self {
        OwnedTerm::Atom(a)
    }
}

impl From<Ref> for OwnedTerm {
    fn from(r: Ref) -> Self {
        OwnedTerm::Ref(r)
    }
}

impl From<Pid> for OwnedTerm {
    fn from(p: Pid) -> Self {
        OwnedTerm::Pid(p)
    }
}

impl From<f64> for OwnedTerm {
    fn from(x: f64) -> Self {
        OwnedTerm::Float(x)
    }
}

impl From<&[u8]> for OwnedTerm {
    fn from(b: &[u8]) -> Self {
        OwnedTerm::Binary(b.to_vec())
    }
}

impl<'h> Term<'h> {
    /// An owned deep copy of this term.
    pub fn to_owned_term(self) -> OwnedTerm {
        match self.view() {
            View::Nil => OwnedTerm::Nil,
            View::Int(i) => OwnedTerm::Int(i),
            View::Atom(a) => OwnedTerm::Atom(a),
            View::Pid(p) => OwnedTerm::Pid(p),
            View::Ref(r) => OwnedTerm::Ref(r),
            View::Float(x) => OwnedTerm::Float(x),
            View::Binary(b) => OwnedTerm::Binary(b.to_vec()),
            View::Tuple(items) => OwnedTerm::Tuple(items.iter().map(|t| t.to_owned_term()).collect()),
            View::Cons(..) => {
                let mut it = self.iter_list();
                let items: Vec<OwnedTerm> = it.by_ref().map(|t| t.to_owned_term()).collect();
                let tail = it.tail().to_owned_term();
                OwnedTerm::improper_list(items, tail)
            }
        }
    }
}

impl<'h> Mu<'h> {
    /// Builds `term` on this heap. Binaries above 64 bytes become new off-heap binaries.
    pub fn from_owned(self, term: &OwnedTerm) -> Term<'h> {
        match term {
            OwnedTerm::Nil => Term::nil(),
            OwnedTerm::Int(i) => self.int(*i),
            OwnedTerm::Atom(a) => Term::atom(*a),
            OwnedTerm::Pid(p) => Term::pid(*p),
            OwnedTerm::Ref(r) => Term::reference(*r),
            OwnedTerm::Float(x) => self.float(*x),
            OwnedTerm::Binary(b) => self.binary(b),
            OwnedTerm::Tuple(items) => {
                let elems: Vec<Term<'h>> = items.iter().map(|t| self.from_owned(t)).collect();
                self.tuple(&elems)
            }
            OwnedTerm::List(items, tail) => {
                let tail = self.from_owned(tail);
                self.list_with_tail(items.iter().map(|t| self.from_owned(t)), tail)
            }
        }
    }
}
