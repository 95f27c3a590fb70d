//! Erlang term order and exact (`=:=`) equality, for heap terms and owned terms alike.
//!
//! number < atom < reference < pid < tuple < nil < list < binary (erts_cmp in utils.c; funs,
//! ports and maps have no counterpart here). Integers and floats compare by value; where an
//! integer and a float are numerically equal (`1 == 1.0` in Erlang, but not `=:=`) the
//! integer orders first, so the order is total and agrees with exact equality. Tuples order
//! by size, then element-wise; lists element-wise; binaries byte-wise.
//!
//! # Invariants
//! 1. `compare(a, b) == Equal` exactly when `a =:= b` (deep structural equality).

use std::cmp::Ordering;

use crate::owned::OwnedTerm;
use crate::term::{Term, View};

/// The order class of a term.
fn class_of(v: &View<'_>) -> u8 {
    match v {
        View::Int(_) | View::Float(_) => 0,
        View::Atom(_) => 1,
        View::Ref(_) => 2,
        View::Pid(_) => 3,
        View::Tuple(_) => 4,
        View::Nil => 5,
        View::Cons(..) => 6,
        View::Binary(_) => 7,
    }
}

fn compare_numbers(a: &View<'_>, b: &View<'_>) -> Ordering {
    match (a, b) {
        (View::Int(x), View::Int(y)) => x.cmp(y),
        (View::Float(x), View::Float(y)) => x.total_cmp(y),
        (View::Int(x), View::Float(y)) => compare_int_float(*x, *y),
        (View::Float(x), View::Int(y)) => compare_int_float(*y, *x).reverse(),
        _ => unreachable!("not numbers"),
    }
}

/// Compares an integer with a float by exact value, as erts_cmp does: `x as f64` would round
/// integers above 2^53 (2^53 + 1 would equal the float 2^53). Equal values order the integer
/// first. NaN, which Erlang has not, sits where `f64::total_cmp` puts it among floats (above
/// every number when positive, below when negative), so the order stays total.
fn compare_int_float(x: i64, y: f64) -> Ordering {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if y.is_nan() {
        return if y.is_sign_negative() { Ordering::Greater } else { Ordering::Less };
    }
    if y >= TWO_POW_63 {
        return Ordering::Less;
    }
    if y < -TWO_POW_63 {
        return Ordering::Greater;
    }
    // -2^63 <= whole < 2^63 and integral, so the conversion is exact.
    let whole = y.trunc();
    match x.cmp(&(whole as i64)) {
        Ordering::Equal if y > whole => Ordering::Less,
        Ordering::Equal if y < whole => Ordering::Greater,
        Ordering::Equal => Ordering::Less,
        unequal => unequal,
    }
}

/// Compares two terms of any brands in Erlang term order.
pub fn compare(a: Term<'_>, b: Term<'_>) -> Ordering {
    let (mut a, mut b) = (a, b);
    // Iterate along list tails so long lists need no recursion depth.
    loop {
        let (va, vb) = (a.view(), b.view());
        let (ca, cb) = (class_of(&va), class_of(&vb));
        if ca != cb {
            return ca.cmp(&cb);
        }
        let ord = match (&va, &vb) {
            (View::Atom(x), View::Atom(y)) => x.cmp(y),
            (View::Pid(x), View::Pid(y)) => x.cmp(y),
            (View::Ref(x), View::Ref(y)) => x.cmp(y),
            (View::Nil, View::Nil) => Ordering::Equal,
            (View::Binary(x), View::Binary(y)) => x.cmp(y),
            (View::Tuple(x), View::Tuple(y)) => x.len().cmp(&y.len()).then_with(|| {
                x.iter()
                    .zip(y.iter())
                    .map(|(p, q)| compare(*p, *q))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            }),
            (View::Cons(ha, ta), View::Cons(hb, tb)) => match compare(*ha, *hb) {
                Ordering::Equal => {
                    a = *ta;
                    b = *tb;
                    continue;
                }
                o => o,
            },
            _ => compare_numbers(&va, &vb),
        };
        return ord;
    }
}

impl<'a, 'b> PartialEq<Term<'b>> for Term<'a> {
    fn eq(&self, other: &Term<'b>) -> bool {
        compare(*self, *other) == Ordering::Equal
    }
}

impl Eq for Term<'_> {}

impl<'a, 'b> PartialOrd<Term<'b>> for Term<'a> {
    fn partial_cmp(&self, other: &Term<'b>) -> Option<Ordering> {
        Some(compare(*self, *other))
    }
}

impl Ord for Term<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(*self, *other)
    }
}

fn owned_class(t: &OwnedTerm) -> u8 {
    match t {
        OwnedTerm::Int(_) | OwnedTerm::Float(_) => 0,
        OwnedTerm::Atom(_) => 1,
        OwnedTerm::Ref(_) => 2,
        OwnedTerm::Pid(_) => 3,
        OwnedTerm::Tuple(_) => 4,
        OwnedTerm::Nil => 5,
        OwnedTerm::List(..) => 6,
        OwnedTerm::Binary(_) => 7,
    }
}

/// Compares two owned terms in Erlang term order (the same order as [`compare`]).
pub fn compare_owned(a: &OwnedTerm, b: &OwnedTerm) -> Ordering {
    let (ca, cb) = (owned_class(a), owned_class(b));
    if ca != cb {
        return ca.cmp(&cb);
    }
    match (a, b) {
        (OwnedTerm::Int(x), OwnedTerm::Int(y)) => compare_numbers(&View::Int(*x), &View::Int(*y)),
        (OwnedTerm::Int(x), OwnedTerm::Float(y)) => compare_numbers(&View::Int(*x), &View::Float(*y)),
        (OwnedTerm::Float(x), OwnedTerm::Int(y)) => compare_numbers(&View::Float(*x), &View::Int(*y)),
        (OwnedTerm::Float(x), OwnedTerm::Float(y)) => x.total_cmp(y),
        (OwnedTerm::Atom(x), OwnedTerm::Atom(y)) => x.cmp(y),
        (OwnedTerm::Pid(x), OwnedTerm::Pid(y)) => x.cmp(y),
        (OwnedTerm::Ref(x), OwnedTerm::Ref(y)) => x.cmp(y),
        (OwnedTerm::Nil, OwnedTerm::Nil) => Ordering::Equal,
        (OwnedTerm::Binary(x), OwnedTerm::Binary(y)) => x.cmp(y),
        (OwnedTerm::Tuple(x), OwnedTerm::Tuple(y)) => x.len().cmp(&y.len()).then_with(|| compare_seq(x, y)),
        (OwnedTerm::List(xs, xt), OwnedTerm::List(ys, yt)) => {
            // Element-wise over the shorter prefix; then the longer list continues against the
            // shorter one's tail.
            let n = xs.len().min(ys.len());
            compare_seq(&xs[..n], &ys[..n]).then_with(|| {
                let rest_x = OwnedTerm::improper_list(xs[n..].to_vec(), (**xt).clone());
                let rest_y = OwnedTerm::improper_list(ys[n..].to_vec(), (**yt).clone());
                if xs.len() == ys.len() {
                    compare_owned(xt, yt)
                } else {
                    compare_owned(&rest_x, &rest_y)
                }
            })
        }
        _ => unreachable!("same class"),
    }
}

fn compare_seq(x: &[OwnedTerm], y: &[OwnedTerm]) -> Ordering {
    x.iter().zip(y).map(|(p, q)| compare_owned(p, q)).find(|o| o.is_ne()).unwrap_or(Ordering::Equal)
}

impl PartialEq for OwnedTerm {
    fn eq(&self, other: &Self) -> bool {
        compare_owned(self, other) == Ordering::Equal
    }
}

impl Eq for OwnedTerm {}

impl PartialOrd for OwnedTerm {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OwnedTerm {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_owned(self, other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Atom, Heap, Pid, Ref};

    #[test]
    fn classes_follow_erlang_term_order() {
        let ordered = vec![
            OwnedTerm::Int(5),
            OwnedTerm::Float(5.5),
            OwnedTerm::atom("a"),
            OwnedTerm::Ref(Ref::from_number(1)),
            OwnedTerm::Pid(Pid::new(1)),
            OwnedTerm::tuple(vec![]),
            OwnedTerm::Nil,
            OwnedTerm::list(vec![OwnedTerm::Int(1)]),
            OwnedTerm::Binary(vec![]),
        ];
        for w in ordered.windows(2) {
            assert!(w[0] < w[1], "{} < {}", w[0], w[1]);
        }
        let mut heap = Heap::default();
        heap.enter(|h| {
            let terms: Vec<_> = ordered.iter().map(|t| h.from_owned(t)).collect();
            for w in terms.windows(2) {
                assert!(w[0] < w[1], "{} < {}", w[0], w[1]);
            }
            assert_eq!(terms[3].to_string(), "#Ref<0.0.0.1>");
            assert_eq!(terms[3].as_ref(), Some(Ref::from_number(1)));
            assert!(!terms[3].is_nil() && terms[6].is_nil());
        });
    }

    #[test]
    fn integers_and_floats_compare_by_value_ints_first_on_ties() {
        assert!(OwnedTerm::Int(1) < OwnedTerm::Float(1.0));
        assert!(OwnedTerm::Float(0.5) < OwnedTerm::Int(1));
        assert_ne!(OwnedTerm::Int(1), OwnedTerm::Float(1.0));
        assert!(OwnedTerm::atom("b") > OwnedTerm::Atom(Atom::new("a")));
        assert!(
            OwnedTerm::tuple(vec![OwnedTerm::Int(9)])
                < OwnedTerm::tuple(vec![OwnedTerm::Int(1), OwnedTerm::Int(1)])
        );
        let l1 = OwnedTerm::improper_list(vec![OwnedTerm::Int(1)], OwnedTerm::Int(2));
        let l2 = OwnedTerm::list(vec![OwnedTerm::Int(1), OwnedTerm::Int(2)]);
        // Heads tie, then the tails compare: 2 (a number) sorts below [2] (a list).
        assert!(l1 < l2, "[1|2] < [1,2]");
    }
}
