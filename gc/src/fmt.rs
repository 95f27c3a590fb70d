//! Printing terms in Erlang syntax (as `io:format("~w")`): `{ok,[1,2|3]}`, `'EXIT'`,
//! `<0.42.0>`, `<<1,2,3>>`, `1.5`, `1.0e20`.
//!
//! # Invariants
//! 1. Heap terms and owned terms print identically when they are equal.

use std::fmt::{self, Display, Formatter, Write};

use crate::owned::OwnedTerm;
use crate::term::{Term, View};

/// Floats as Erlang prints them: always with a fraction, exponent for large magnitudes.
fn write_float(f: &mut Formatter<'_>, x: f64) -> fmt::Result {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
        write!(f, "{x:.1}")
    } else if x.is_finite() && (x.abs() >= 1e16 || (x != 0.0 && x.abs() < 1e-4)) {
        let s = format!("{x:e}");
        match s.split_once('e') {
            Some((m, e)) if !m.contains('.') => write!(f, "{m}.0e{e}"),
            _ => f.write_str(&s),
        }
    } else {
        write!(f, "{x}")
    }
}

fn write_binary(f: &mut Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    f.write_str("<<")?;
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        write!(f, "{b}")?;
    }
    f.write_str(">>")
}

impl Display for Term<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.view() {
            View::Nil => f.write_str("[]"),
            View::Int(i) => write!(f, "{i}"),
            View::Atom(a) => write!(f, "{a}"),
            View::Pid(p) => write!(f, "{p}"),
            View::Ref(r) => write!(f, "{r}"),
            View::Float(x) => write_float(f, x),
            View::Binary(b) => write_binary(f, b),
            View::Tuple(items) => {
                f.write_char('{')?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    Display::fmt(t, f)?;
                }
                f.write_char('}')
            }
            View::Cons(..) => {
                f.write_char('[')?;
                let mut it = self.iter_list();
                for (i, t) in it.by_ref().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    Display::fmt(&t, f)?;
                }
                if !it.tail().is_nil() {
                    write!(f, "|{}", it.tail())?;
                }
                f.write_char(']')
            }
        }
    }
}

impl Display for OwnedTerm {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            OwnedTerm::Nil => f.write_str("[]"),
            OwnedTerm::Int(i) => write!(f, "{i}"),
            OwnedTerm::Atom(a) => write!(f, "{a}"),
            OwnedTerm::Pid(p) => write!(f, "{p}"),
            OwnedTerm::Ref(r) => write!(f, "{r}"),
            OwnedTerm::Float(x) => write_float(f, *x),
            OwnedTerm::Binary(b) => write_binary(f, b),
            OwnedTerm::Tuple(items) => {
                f.write_char('{')?;
                write_seq(f, items)?;
                f.write_char('}')
            }
            OwnedTerm::List(items, tail) => {
                f.write_char('[')?;
                write_seq(f, items)?;
                if !matches!(**tail, OwnedTerm::Nil) {
                    write!(f, "|{tail}")?;
                }
                f.write_char(']')
            }
        }
    }
}

fn write_seq(f: &mut Formatter<'_>, items: &[OwnedTerm]) -> fmt::Result {
    for (i, t) in items.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        Display::fmt(t, f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::owned::OwnedTerm as O;
    use crate::{Atom, Heap, Pid};

    #[test]
    fn erlang_syntax() {
        let t = O::tuple(vec![
            O::atom("ok"),
            O::improper_list(vec![O::Int(1), O::Int(2)], O::Int(3)),
            O::atom("EXIT"),
            O::Pid(Pid::new(42)),
            O::Binary(vec![1, 2, 3]),
            O::Float(1.5),
            O::Float(2.0),
            O::Float(1e20),
            O::Nil,
        ]);
        let expected = "{ok,[1,2|3],'EXIT',<0.42.0>,<<1,2,3>>,1.5,2.0,1.0e20,[]}";
        assert_eq!(t.to_string(), expected);
        let mut heap = Heap::default();
        heap.enter(|h| assert_eq!(h.from_owned(&t).to_string(), expected));
        assert_eq!(O::Atom(Atom::new("a b")).to_string(), "'a b'");
    }
}
