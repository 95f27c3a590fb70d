//! Declarative pattern matching on terms: [`match_term!`](crate::match_term),
//! [`matcher!`](crate::matcher) and [`receive!`](crate::receive), with Erlang's patterns
//! written in Rust tokens.
//!
//! | pattern | matches |
//! |---------|---------|
//! | `ok`, `DOWN`, `'EXIT'` is `EXIT` | that atom (an identifier names an atom, as in Erlang) |
//! | `42`, `-1`, `1.5`, `true` | an equal integer, float, or the atom `true`/`false` |
//! | `"text"`, `b"bytes"` | a binary with those bytes (`<<"text">>`) |
//! | `_`, `_name` | anything (an identifier starting with `_` names what it ignores) |
//! | `name: Type` | a term that `Type` reads (see [`FromTerm`]), bound to `name` |
//! | `name @ pattern` | what `pattern` matches, the whole term bound to `name` (a [`Term`]) |
//! | `^value` | a term equal to a Rust value already bound (Elixir's pin), see [`Literal`] |
//! | `{p1, p2, ...}` | a tuple of exactly that many elements, each matching its pattern |
//! | `[]`, `[p1, p2]` | a proper list of exactly that many elements |
//! | `[p1, p2 \| tail]` | a list of at least two elements whose rest matches `tail` |
//!
//! An arm is `pattern => body` or `pattern if guard => body`, separated by commas; the
//! guard and the body see the bindings. Arms are tried in order and the first that matches
//! (guard included) gives `Some(body)`; none gives `None`, which is what a receive needs to
//! leave a message in the mailbox. Where Erlang writes `{From, N} when N > 0`, the
//! binding says what it reads, `{from: Pid, n: i64} if n > 0`, and a term that does not
//! read as that type does not match (as `is_pid(From)` in a guard).
//!
//! Bindings read the term in place: `x: Term` is the term itself, valid under the brand of
//! the receive like any term; `x: OwnedTerm` copies it out, to keep across an await or send
//! anywhere; `x: Root` roots it on the process's heap (no copy), to read again later.
//!
//! ```
//! use std::time::Duration;
//!
//! use heaplab_runtime::heaplab_gc::Pid;
//! use heaplab_runtime::{receive, Runtime};
//!
//! let rt = Runtime::builder().schedulers(2).build().unwrap();
//! let total = rt
//!     .block_on(|mut cx| async move {
//!         let me = cx.self_pid();
//!         let adder = cx
//!             .spawn(|mut cx| async move {
//!                 let mut sum = 0;
//!                 loop {
//!                     receive!(cx, {
//!                         {add, n: i64} if n > 0 => sum += n,
//!                         {get, from: Pid} => cx.send(from, |h| h.int(sum)),
//!                         stop => return,
//!                     });
//!                 }
//!             })
//!             .unwrap();
//!         for n in [1, 2, -3, 4] {
//!             cx.send(adder, |h| h.tuple(&[h.atom_named("add"), h.int(n)]));
//!         }
//!         cx.send(adder, |h| h.tuple(&[h.atom_named("get"), h.pid(me)]));
//!         let total = receive!(cx, { n: i64 => n } after Duration::from_secs(5) => -1);
//!         cx.send(adder, |h| h.atom_named("stop"));
//!         total
//!     })
//!     .unwrap();
//! assert_eq!(total, 7, "the guard refused -3, which stays in the adder's mailbox");
//! ```
//!
//! # Invariants
//! 1. A pattern never copies or allocates unless a binding asks for it (`OwnedTerm`,
//!    `String`, `Vec`, `Root`): matching reads the term in place, and an atom in a pattern
//!    is interned once per pattern site, not at each match. The readers are `#[inline]`, so
//!    a pattern compiles to what a hand-written matcher does in the crate that uses it.
//! 2. An arm's bindings exist only in that arm: its guard and its body.

use heaplab_gc::{Atom, Mu, OwnedTerm, Pid, Ref, Root, Term, View};

use crate::exit::ExitReason;

/// A Rust value a term can be read as, for a binding `name: Type` in a pattern. Reading
/// fails (`None`, and the pattern does not match) when the term is not of that shape.
///
/// | type | reads |
/// |------|-------|
/// | [`Term`] | any term, as it is |
/// | `i64`, `i32`, `u32`, `u64`, `usize` | an integer in the type's range |
/// | `f64` | a float (not an integer, as `is_float/1`) |
/// | `bool` | the atom `true` or `false` |
/// | [`Atom`], [`Pid`], [`Ref`] | an atom, pid or reference |
/// | `&[u8]`, `String` | a binary (for `String`, valid UTF-8) |
/// | `&[Term]` | a tuple of any size, its elements |
/// | `Vec<T>` | a proper list whose every element reads as `T` |
/// | [`OwnedTerm`] | any term, copied out |
/// | [`ExitReason`] | any term, as an exit reason (normalised) |
/// | [`Root`] | any term, rooted on the heap (survives awaits and collections) |
pub trait FromTerm<'h>: Sized {
    /// Reads `term` of the heap `h`.
    fn from_term(h: Mu<'h>, term: Term<'h>) -> Option<Self>;
}

impl<'h> FromTerm<'h> for Term<'h> {
    #[inline]
    fn from_term(_: Mu<'h>, term: Term<'h>) -> Option<Self> {
        Some(term)
    }
}

/// Types a term reads as with one of its accessors (`as_int`, `as_pid`, ...).
macro_rules! from_accessor {
    ($($t:ty => $accessor:ident),*) => {
        $(
            impl<'h> FromTerm<'h> for $t {
                #[inline]
                fn from_term(_: Mu<'h>, term: Term<'h>) -> Option<Self> {
                    term.$accessor()
                }
            }
        )*
    };
}
from_accessor!(i64 => as_int, f64 => as_float, Atom => as_atom, Pid => as_pid, Ref => as_ref);

/// Integer types read through `i64`, in range or not at all.
macro_rules! from_int {
    ($($t:ty),*) => {
        $(
            impl<'h> FromTerm<'h> for $t {
                #[inline]
                fn from_term(_: Mu<'h>, term: Term<'h>) -> Option<Self> {
                    <$t>::try_from(term.as_int()?).ok()
                }
            }
        )*
    };
}
from_int!(i32, u32, u64, usize);

impl<'h> FromTerm<'h> for bool {
    #[inline]
    fn from_term(_: Mu<'h>, term: Term<'h>) -> Option<Self> {
        match term.as_atom()? {
            Atom::TRUE => Some(true),
            Atom::FALSE => Some(false),
            _ => None,
        }
    }
}

impl<'h> FromTerm<'h> for &'h [u8] {
    #[inline]
    fn from_term(_: Mu<'h>, term: Term<'h>) -> Option<Self> {
        term.as_binary()
    }
}

impl<'h> FromTerm<'h> for String {
    #[inline]
    fn from_term(_: Mu<'h>, term: Term<'h>) -> Option<Self> {
        std::str::from_utf8(term.as_binary()?).ok().map(str::to_owned)
    }
}

impl<'h> FromTerm<'h> for &'h [Term<'h>] {
    #[inline]
    fn from_term(_: Mu<'h>, term: Term<'h>) -> Option<Self> {
        term.as_tuple()
    }
}

impl<'h, T: FromTerm<'h>> FromTerm<'h> for Vec<T> {
    #[inline]
    fn from_term(h: Mu<'h>, term: Term<'h>) -> Option<Self> {
        let mut items = term.iter_list();
        let read = items.by_ref().map(|item| T::from_term(h, item)).collect::<Option<Vec<T>>>()?;
        items.tail().is_nil().then_some(read)
    }
}

impl<'h> FromTerm<'h> for OwnedTerm {
    #[inline]
    fn from_term(_: Mu<'h>, term: Term<'h>) -> Option<Self> {
        Some(term.to_owned_term())
    }
}

impl<'h> FromTerm<'h> for ExitReason {
    #[inline]
    fn from_term(_: Mu<'h>, term: Term<'h>) -> Option<Self> {
        Some(ExitReason::from_term(term.to_owned_term()))
    }
}

impl<'h> FromTerm<'h> for Root {
    #[inline]
    fn from_term(h: Mu<'h>, term: Term<'h>) -> Option<Self> {
        Some(h.root(term))
    }
}

/// A Rust value a term can equal: a literal in a pattern (`42`, `"text"`, `true`) or a
/// pinned value (`^monitor`). Numbers compare by value within their kind (an integer never
/// equals a float, as `=:=`), strings and byte strings equal binaries, `bool` equals the
/// atom, an [`OwnedTerm`] or [`ExitReason`] equals a term of the same shape.
pub trait Literal {
    /// Whether `term` equals this value.
    fn matches(&self, term: Term<'_>) -> bool;
}

impl<T: Literal + ?Sized> Literal for &T {
    #[inline]
    fn matches(&self, term: Term<'_>) -> bool {
        (**self).matches(term)
    }
}

/// Integer literals compare through `i64`.
macro_rules! int_literal {
    ($($t:ty),*) => {
        $(
            impl Literal for $t {
                #[inline]
                fn matches(&self, term: Term<'_>) -> bool {
                    term.as_int().is_some_and(|n| i64::try_from(*self).is_ok_and(|me| me == n))
                }
            }
        )*
    };
}
int_literal!(i32, i64, u32, u64, usize);

/// Values equal to a term when its accessor (`as_float`, `as_pid`, ...) gives them.
macro_rules! accessor_literal {
    ($($t:ty => $accessor:ident),*) => {
        $(
            impl Literal for $t {
                #[inline]
                fn matches(&self, term: Term<'_>) -> bool {
                    term.$accessor() == Some(*self)
                }
            }
        )*
    };
}
accessor_literal!(f64 => as_float, Atom => as_atom, Pid => as_pid, Ref => as_ref);

impl Literal for bool {
    #[inline]
    fn matches(&self, term: Term<'_>) -> bool {
        term.as_atom() == Some(Atom::from(*self))
    }
}

impl Literal for str {
    #[inline]
    fn matches(&self, term: Term<'_>) -> bool {
        term.as_binary() == Some(self.as_bytes())
    }
}

impl Literal for String {
    #[inline]
    fn matches(&self, term: Term<'_>) -> bool {
        Literal::matches(self.as_str(), term)
    }
}

impl Literal for [u8] {
    #[inline]
    fn matches(&self, term: Term<'_>) -> bool {
        term.as_binary() == Some(self)
    }
}

impl<const N: usize> Literal for [u8; N] {
    #[inline]
    fn matches(&self, term: Term<'_>) -> bool {
        self.as_slice().matches(term)
    }
}

impl Literal for OwnedTerm {
    #[inline]
    fn matches(&self, term: Term<'_>) -> bool {
        exactly_equal(self, term)
    }
}

/// Erlang's `=:=` between an owned term and a term, without copying either (Invariant 1).
fn exactly_equal(owned: &OwnedTerm, term: Term<'_>) -> bool {
    match (owned, term.view()) {
        (OwnedTerm::Nil, View::Nil) => true,
        (OwnedTerm::Int(a), View::Int(b)) => *a == b,
        (OwnedTerm::Float(a), View::Float(b)) => *a == b,
        (OwnedTerm::Atom(a), View::Atom(b)) => *a == b,
        (OwnedTerm::Ref(a), View::Ref(b)) => *a == b,
        (OwnedTerm::Pid(a), View::Pid(b)) => *a == b,
        (OwnedTerm::Binary(a), View::Binary(b)) => a.as_slice() == b,
        (OwnedTerm::Tuple(items), View::Tuple(elements)) => {
            items.len() == elements.len() && items.iter().zip(elements).all(|(a, b)| exactly_equal(a, *b))
        }
        (OwnedTerm::List(items, tail), View::Cons(..)) => {
            let mut rest = term;
            for item in items {
                match rest.as_cons() {
                    Some((head, next)) if exactly_equal(item, head) => rest = next,
                    _ => return false,
                }
            }
            exactly_equal(tail, rest)
        }
        _ => false,
    }
}

impl Literal for ExitReason {
    #[inline]
    fn matches(&self, term: Term<'_>) -> bool {
        self.to_term().matches(term)
    }
}

/// Whether an identifier in a pattern is a wildcard that names what it ignores (`_node`,
/// as Erlang's `_Node`) rather than an atom.
#[doc(hidden)]
#[inline]
pub fn ignored(identifier: &str) -> bool {
    identifier.starts_with('_')
}

/// Gives a receive matcher the signature [`Cx::receive`](crate::Cx::receive) needs, so
/// that it can be built ahead of its receive (a closure's higher-ranked signature is
/// inferred only where it is passed directly). [`matcher!`](crate::matcher) uses it.
#[inline]
pub fn matcher<R, F>(f: F) -> F
where
    F: for<'h> FnMut(Mu<'h>, Term<'h>) -> Option<R>,
{
    f
}

/// Matches a term against patterns: `match_term!(h, term, { pattern => body, ... })` is
/// `Some(body)` of the first arm that matches, or `None`. `h` is the [`Mu`] of the term's
/// heap. See [the pattern syntax](crate::pattern).
///
/// Bodies run in the enclosing function: `return` and `?` in a body act on it, as in a
/// `match`.
///
/// ```
/// use heaplab_runtime::heaplab_gc::{Heap, Pid};
/// use heaplab_runtime::match_term;
///
/// let mut heap = Heap::default();
/// heap.enter(|h| {
///     let me = Pid::new(7);
///     let request = h.tuple(&[h.atom_named("call"), h.pid(me), h.list([h.int(1), h.int(2)])]);
///     let read = match_term!(h, request, {
///         {call, from: Pid, [first: i64 | rest: Vec<i64>]} => (from, first, rest),
///         {cast, _, _} => unreachable!("not a cast"),
///     });
///     assert_eq!(read, Some((me, 1, vec![2])));
/// });
/// ```
#[macro_export]
macro_rules! match_term {
    ($h:expr, $term:expr, { $($arms:tt)* }) => {{
        let __heaplab_h: $crate::heaplab_gc::Mu<'_> = $h;
        let __heaplab_t: $crate::heaplab_gc::Term<'_> = $term;
        $crate::__pattern!(@arms in_place (__heaplab_h, __heaplab_t) [] [] [] $($arms)*)
    }};
}

/// A receive matcher from patterns: `cx.receive(matcher! { pattern => body, ... })`. A
/// message that no arm matches stays in the mailbox. See [the pattern
/// syntax](crate::pattern).
///
/// The bodies run inside the matcher, while the message is looked at: they may read terms
/// bound in place, but `return` or `?` in a body leave the matcher, and `cx` is borrowed by
/// the receive. [`receive!`](crate::receive) runs its bodies after the receive instead.
///
/// ```
/// use heaplab_runtime::heaplab_gc::Pid;
/// use heaplab_runtime::{matcher, Runtime};
///
/// let rt = Runtime::builder().schedulers(1).build().unwrap();
/// let (from, n) = rt
///     .block_on(|mut cx| async move {
///         let me = cx.self_pid();
///         cx.send(me, |h| h.atom_named("noise"));
///         cx.send(me, |h| h.tuple(&[h.atom_named("ping"), h.pid(me), h.int(3)]));
///         let got = cx.receive(matcher! { {ping, from: Pid, n: i64} => (from, n) }).await;
///         assert_eq!(cx.mailbox_len(), 1, "noise stays");
///         (got.0 == me, got.1)
///     })
///     .unwrap();
/// assert!(from);
/// assert_eq!(n, 3);
/// ```
#[macro_export]
macro_rules! matcher {
    ($($arms:tt)*) => {
        $crate::pattern::matcher(|__heaplab_h, __heaplab_t| {
            $crate::match_term!(__heaplab_h, __heaplab_t, { $($arms)* })
        })
    };
}

/// Erlang's `receive`: `receive!(cx, { pattern => body, ... })` waits for the first
/// message (oldest first) that an arm matches and evaluates to its body; with
/// `after timeout => expr` after the arms, it gives `expr` if none comes in time
/// (`receive ... after`). Other messages stay in the mailbox. Must be used in an `async`
/// block; `cx` is a [`Cx`](crate::Cx) or `&mut Cx`. See [the pattern
/// syntax](crate::pattern).
///
/// Patterns and guards run in the matcher, on the message in place; the body runs after
/// the message was taken, in the enclosing code, so it may use `cx`, `.await`, `return`,
/// `?`, `break` and `continue`. The bindings cross from one to the other, so they must be
/// owned values (`i64`, `Pid`, `OwnedTerm`, `Root`, ...): a `Term` binding cannot outlive
/// the matcher's brand, and the compiler says so. (With [`matcher!`](crate::matcher) the
/// body runs inside the matcher and may keep terms.)
///
/// ```
/// use std::time::Duration;
///
/// use heaplab_runtime::{receive, Runtime};
///
/// let rt = Runtime::builder().schedulers(1).build().unwrap();
/// let late = rt
///     .block_on(|mut cx| async move {
///         receive!(cx, { never => false } after Duration::from_millis(10) => true)
///     })
///     .unwrap();
/// assert!(late);
/// ```
#[macro_export]
macro_rules! receive {
    ($cx:expr, { $($arms:tt)* } after $timeout:expr => $late:expr) => {
        $crate::__pattern!(@arms deferred ($cx; $timeout => $late) [] [] [] $($arms)*)
    };
    ($cx:expr, { $($arms:tt)* }) => {
        $crate::__pattern!(@arms deferred ($cx;) [] [] [] $($arms)*)
    };
}

/// The pattern compiler behind [`match_term!`](crate::match_term); not for direct use.
///
/// `@arms` splits arms; `@arm` makes one arm a labelled block that breaks out at the first
/// mismatch; `@one` matches one pattern against the term bound to an identifier, emitting
/// `let` statements for its bindings; `@tuple` and `@list` split element patterns at
/// top-level commas (and `|`). Labels and the identifiers of subterms are passed down, as
/// macro hygiene keeps each expansion's own names apart.
#[doc(hidden)]
#[macro_export]
macro_rules! __pattern {
    // Arms: gather a pattern's tokens until `if` or `=>`, then file the arm as
    // `([depth] [pattern] (guard) (body))`, where the depth (one `Err` per arm before it)
    // places a deferred arm's bindings in a chain of `Result`s. When no tokens are left,
    // `@$emit` writes the code.
    (@arms $emit:ident $ctx:tt [$($arms:tt)*] [$($d:ident)*] [$($p:tt)+] if $guard:expr => $body:expr, $($rest:tt)*) => {
        $crate::__pattern!(@arms $emit $ctx [$($arms)* ([$($d)*] [$($p)+] ($guard) ($body))] [$($d)* Err] [] $($rest)*)
    };
    (@arms $emit:ident $ctx:tt [$($arms:tt)*] [$($d:ident)*] [$($p:tt)+] if $guard:expr => $body:expr) => {
        $crate::__pattern!(@arms $emit $ctx [$($arms)* ([$($d)*] [$($p)+] ($guard) ($body))] [$($d)* Err] [])
    };
    (@arms $emit:ident $ctx:tt [$($arms:tt)*] [$($d:ident)*] [$($p:tt)+] if $guard:expr => $body:block $($rest:tt)*) => {
        $crate::__pattern!(@arms $emit $ctx [$($arms)* ([$($d)*] [$($p)+] ($guard) ($body))] [$($d)* Err] [] $($rest)*)
    };
    (@arms $emit:ident $ctx:tt [$($arms:tt)*] [$($d:ident)*] [$($p:tt)+] => $body:expr, $($rest:tt)*) => {
        $crate::__pattern!(@arms $emit $ctx [$($arms)* ([$($d)*] [$($p)+] (true) ($body))] [$($d)* Err] [] $($rest)*)
    };
    (@arms $emit:ident $ctx:tt [$($arms:tt)*] [$($d:ident)*] [$($p:tt)+] => $body:expr) => {
        $crate::__pattern!(@arms $emit $ctx [$($arms)* ([$($d)*] [$($p)+] (true) ($body))] [$($d)* Err] [])
    };
    (@arms $emit:ident $ctx:tt [$($arms:tt)*] [$($d:ident)*] [$($p:tt)+] => $body:block $($rest:tt)*) => {
        $crate::__pattern!(@arms $emit $ctx [$($arms)* ([$($d)*] [$($p)+] (true) ($body))] [$($d)* Err] [] $($rest)*)
    };
    (@arms $emit:ident $ctx:tt [$($arms:tt)*] [$($d:ident)*] []) => {
        $crate::__pattern!(@$emit $ctx [$($arms)*] [$($d)*])
    };
    (@arms $emit:ident $ctx:tt [$($arms:tt)*] [$($d:ident)*] [$($p:tt)*] $next:tt $($rest:tt)*) => {
        $crate::__pattern!(@arms $emit $ctx [$($arms)*] [$($d)*] [$($p)* $next] $($rest)*)
    };

    // `match_term!`: every arm's body runs where its pattern matched.
    (@in_place ($h:ident, $t:ident) [$(([$($d:ident)*] [$($p:tt)+] ($g:expr) ($b:expr)))*] [$($total:ident)*]) => {
        'heaplab_done: {
            $( $crate::__pattern!(@arm 'heaplab_done, $h, $t; [$($p)+] ($g) ($b)); )*
            ::core::option::Option::None
        }
    };

    // `receive!`: the matcher returns the matched arm's bindings (owned values), placed in
    // a chain of `Result`s by the arm's depth; the body runs after the receive, outside the
    // matcher, so it may use `cx`, await, `return` or `continue`.
    (@deferred ($cx:expr; $($timeout:expr => $late:expr)?) [$(([$($d:ident)*] [$($p:tt)+] ($g:expr) ($b:expr)))*] [$($total:ident)*]) => {{
        let __heaplab_matcher = $crate::pattern::matcher(|__heaplab_h, __heaplab_t| {
            'heaplab_done: {
                $(
                    $crate::__pattern!(@arm 'heaplab_done, __heaplab_h, __heaplab_t; [$($p)+] ($g)
                        ($crate::__pattern!(@nest [$($d)*] $crate::__pattern!(@names [] $($p)+))));
                )*
                ::core::option::Option::None
            }
        });
        let __heaplab_received = $crate::__pattern!(@wait $cx, __heaplab_matcher $(, $timeout)?);
        match __heaplab_received {
            $(
                // A binding may serve the guard alone.
                #[allow(unused_variables)]
                ::core::option::Option::Some(
                    $crate::__pattern!(@nest [$($d)*] $crate::__pattern!(@names [] $($p)+))
                ) => $b,
            )*
            ::core::option::Option::Some($crate::__pattern!(@never [$($total)*] __heaplab_never)) => {
                let never: ::core::convert::Infallible = __heaplab_never;
                match never {}
            }
            ::core::option::Option::None => $crate::__pattern!(@late $($late)?),
        }
    }};
    (@wait $cx:expr, $matcher:ident) => {
        ::core::option::Option::Some($cx.receive($matcher).await)
    };
    (@wait $cx:expr, $matcher:ident, $timeout:expr) => {
        $cx.receive_timeout($timeout, $matcher).await
    };
    (@late) => {
        ::core::unreachable!("a receive without a timeout ended without a message")
    };
    (@late $late:expr) => {
        $late
    };

    // The bindings of a pattern, in order, as a tuple (an expression or a pattern).
    (@names [$($n:ident)*]) => { ($($n,)*) };
    (@names [$($n:ident)*] ^ $pinned:tt $($rest:tt)*) => { $crate::__pattern!(@names [$($n)*] $($rest)*) };
    (@names [$($n:ident)*] $name:ident : $($rest:tt)*) => { $crate::__pattern!(@names [$($n)* $name] $($rest)*) };
    (@names [$($n:ident)*] $name:ident @ $($rest:tt)*) => { $crate::__pattern!(@names [$($n)* $name] $($rest)*) };
    (@names [$($n:ident)*] { $($inner:tt)* } $($rest:tt)*) => { $crate::__pattern!(@names [$($n)*] $($inner)* $($rest)*) };
    (@names [$($n:ident)*] [ $($inner:tt)* ] $($rest:tt)*) => { $crate::__pattern!(@names [$($n)*] $($inner)* $($rest)*) };
    (@names [$($n:ident)*] $skip:tt $($rest:tt)*) => { $crate::__pattern!(@names [$($n)*] $($rest)*) };

    // `Ok(v)` under one `Err` per arm before it; `@never` is the value past the last arm.
    (@nest [] $($v:tt)*) => { ::core::result::Result::Ok($($v)*) };
    (@nest [$first:ident $($more:ident)*] $($v:tt)*) => {
        ::core::result::Result::Err($crate::__pattern!(@nest [$($more)*] $($v)*))
    };
    (@never [] $v:ident) => { $v };
    (@never [$first:ident $($more:ident)*] $v:ident) => {
        ::core::result::Result::Err($crate::__pattern!(@never [$($more)*] $v))
    };

    // One arm: Invariant 2, its bindings live in its block.
    (@arm $done:lifetime, $h:ident, $t:ident; [$($p:tt)+] ($guard:expr) ($body:expr)) => {
        'heaplab_arm: {
            $crate::__pattern!(@one 'heaplab_arm, $h, $t; $($p)+);
            if !($guard) {
                break 'heaplab_arm;
            }
            // A body that diverges (`return`, `panic!`) makes the `break` unreachable.
            #[allow(unreachable_code, clippy::diverging_sub_expression)]
            {
                let __heaplab_value = $body;
                break $done ::core::option::Option::Some(__heaplab_value);
            }
        }
    };

    // One pattern against the term `$x`.
    (@one $l:lifetime, $h:ident, $x:ident; _) => {};
    (@one $l:lifetime, $h:ident, $x:ident; $name:ident @ $($p:tt)+) => {
        let $name: $crate::heaplab_gc::Term<'_> = $x;
        $crate::__pattern!(@one $l, $h, $x; $($p)+);
    };
    (@one $l:lifetime, $h:ident, $x:ident; $name:ident : $ty:ty) => {
        let ::core::option::Option::Some($name) = <$ty as $crate::pattern::FromTerm>::from_term($h, $x) else {
            break $l;
        };
    };
    (@one $l:lifetime, $h:ident, $x:ident; ^ $value:tt) => {
        if !$crate::pattern::Literal::matches(&$value, $x) {
            break $l;
        }
    };
    (@one $l:lifetime, $h:ident, $x:ident; { $($elements:tt)* }) => {
        let ::core::option::Option::Some(__heaplab_tuple) = $x.as_tuple() else {
            break $l;
        };
        let mut __heaplab_elements = __heaplab_tuple.iter().copied();
        $crate::__pattern!(@tuple $l, $h, __heaplab_elements; [] $($elements)*);
    };
    (@one $l:lifetime, $h:ident, $x:ident; [ $($elements:tt)* ]) => {
        $crate::__pattern!(@list $l, $h, $x; [] $($elements)*);
    };
    (@one $l:lifetime, $h:ident, $x:ident; - $literal:literal) => {
        if !$crate::pattern::Literal::matches(&(-$literal), $x) {
            break $l;
        }
    };
    (@one $l:lifetime, $h:ident, $x:ident; $literal:literal) => {
        if !$crate::pattern::Literal::matches(&$literal, $x) {
            break $l;
        }
    };
    (@one $l:lifetime, $h:ident, $x:ident; $atom:ident) => {
        if !$crate::pattern::ignored(::core::stringify!($atom))
            && $x.as_atom() != ::core::option::Option::Some($crate::__atom!($atom))
        {
            break $l;
        }
    };

    // Tuple elements, taken in order from the iterator `$it`; none may be left over.
    (@tuple $l:lifetime, $h:ident, $it:ident; [$($p:tt)+] , $($rest:tt)*) => {
        let ::core::option::Option::Some(__heaplab_element) = $it.next() else {
            break $l;
        };
        $crate::__pattern!(@one $l, $h, __heaplab_element; $($p)+);
        $crate::__pattern!(@tuple $l, $h, $it; [] $($rest)*);
    };
    (@tuple $l:lifetime, $h:ident, $it:ident; []) => {
        if $it.next().is_some() {
            break $l;
        }
    };
    (@tuple $l:lifetime, $h:ident, $it:ident; [$($p:tt)+]) => {
        $crate::__pattern!(@tuple $l, $h, $it; [$($p)+] ,);
    };
    (@tuple $l:lifetime, $h:ident, $it:ident; [$($p:tt)*] $next:tt $($rest:tt)*) => {
        $crate::__pattern!(@tuple $l, $h, $it; [$($p)* $next] $($rest)*);
    };

    // List elements: each a head taken off the list `$x`; then `| tail`, or `[]`.
    (@list $l:lifetime, $h:ident, $x:ident; [$($p:tt)+] , $($rest:tt)*) => {
        let ::core::option::Option::Some((__heaplab_head, __heaplab_tail)) = $x.as_cons() else {
            break $l;
        };
        $crate::__pattern!(@one $l, $h, __heaplab_head; $($p)+);
        $crate::__pattern!(@list $l, $h, __heaplab_tail; [] $($rest)*);
    };
    (@list $l:lifetime, $h:ident, $x:ident; [$($p:tt)+] | $($tail:tt)+) => {
        let ::core::option::Option::Some((__heaplab_head, __heaplab_tail)) = $x.as_cons() else {
            break $l;
        };
        $crate::__pattern!(@one $l, $h, __heaplab_head; $($p)+);
        $crate::__pattern!(@one $l, $h, __heaplab_tail; $($tail)+);
    };
    (@list $l:lifetime, $h:ident, $x:ident; []) => {
        if !$x.is_nil() {
            break $l;
        }
    };
    (@list $l:lifetime, $h:ident, $x:ident; [$($p:tt)+]) => {
        $crate::__pattern!(@list $l, $h, $x; [$($p)+] ,);
    };
    (@list $l:lifetime, $h:ident, $x:ident; [$($p:tt)*] $next:tt $($rest:tt)*) => {
        $crate::__pattern!(@list $l, $h, $x; [$($p)* $next] $($rest)*);
    };
}

/// The atom named by an identifier, interned once per use site (Invariant 1).
#[doc(hidden)]
#[macro_export]
macro_rules! __atom {
    ($name:ident) => {{
        static ATOM: ::std::sync::OnceLock<$crate::heaplab_gc::Atom> = ::std::sync::OnceLock::new();
        *ATOM.get_or_init(|| $crate::heaplab_gc::Atom::new(::core::stringify!($name)))
    }};
}

#[cfg(test)]
mod tests {
    use heaplab_gc::Heap;

    use super::*;

    /// What `match_term!` reads from a sample of shapes.
    #[derive(Debug, PartialEq)]
    enum Read {
        Ok(i64),
        Error(OwnedTerm),
        Pair(i64, i64),
        Big(i64),
        Neg,
        Text,
        Bytes,
        Yes,
        HeadTail(i64, usize),
        Empty,
        Whole(String),
        Pinned,
        Float,
        Tuple(usize),
    }

    fn read<'h>(h: Mu<'h>, t: Term<'h>, pinned: Pid) -> Option<Read> {
        match_term!(h, t, {
            {ok, n: i64} if n >= 0 => Read::Ok(n),
            {error, why: OwnedTerm} => Read::Error(why),
            {pair, [a: i64, b: i64]} => Read::Pair(a, b),
            1_000_000 => Read::Big(1_000_000),
            -1 => Read::Neg,
            "text" => Read::Text,
            b"\x00\x01" => Read::Bytes,
            true => Read::Yes,
            [h: i64 | t: Vec<i64>] => Read::HeadTail(h, t.len()),
            [] => Read::Empty,
            all @ {whole, _} => Read::Whole(all.to_string()),
            {^pinned, _} => Read::Pinned,
            1.5 => Read::Float,
            elements: &[Term] => { Read::Tuple(elements.len()) }
        })
    }

    #[test]
    fn patterns_match_atoms_integers_tuples_lists_and_bind() {
        let mut heap = Heap::default();
        let me = Pid::new(3);
        heap.enter(|h| {
            let ok = |n| h.tuple(&[h.atom_named("ok"), h.int(n)]);
            assert_eq!(read(h, ok(5), me), Some(Read::Ok(5)));
            // The guard refuses, and no later arm reads a 2-tuple starting with `ok`...
            assert_eq!(read(h, ok(-5), me), Some(Read::Tuple(2)), "falls to the tuple arm");
            let error = h.tuple(&[h.atom_named("error"), h.list([h.atom_named("x")])]);
            assert_eq!(read(h, error, me), Some(Read::Error(OwnedTerm::list(vec![OwnedTerm::atom("x")]))));
            let pair = h.tuple(&[h.atom_named("pair"), h.list([h.int(1), h.int(2)])]);
            assert_eq!(read(h, pair, me), Some(Read::Pair(1, 2)));
            let not_pair = h.tuple(&[h.atom_named("pair"), h.list([h.int(1), h.int(2), h.int(3)])]);
            assert_eq!(read(h, not_pair, me), Some(Read::Tuple(2)), "a list of three is not [a, b]");
            assert_eq!(read(h, h.int(1_000_000), me), Some(Read::Big(1_000_000)));
            assert_eq!(read(h, h.int(-1), me), Some(Read::Neg));
            assert_eq!(read(h, h.binary(b"text"), me), Some(Read::Text));
            assert_eq!(read(h, h.binary(&[0, 1]), me), Some(Read::Bytes));
            assert_eq!(read(h, h.atom(Atom::TRUE), me), Some(Read::Yes));
            assert_eq!(read(h, h.list([h.int(1), h.int(2), h.int(3)]), me), Some(Read::HeadTail(1, 2)));
            assert_eq!(read(h, h.nil(), me), Some(Read::Empty));
            let whole = h.tuple(&[h.atom_named("whole"), h.int(9)]);
            assert_eq!(read(h, whole, me), Some(Read::Whole("{whole,9}".into())));
            assert_eq!(read(h, h.tuple(&[h.pid(me), h.nil()]), me), Some(Read::Pinned));
            assert_eq!(read(h, h.float(1.5), me), Some(Read::Float));
            assert_eq!(read(h, h.tuple(&[]), me), Some(Read::Tuple(0)));
            // No arm: an atom that is not `true`, a float that is not 1.5, an improper list.
            assert_eq!(read(h, h.atom_named("other"), me), None);
            assert_eq!(read(h, h.float(2.5), me), None);
            let improper = h.cons(h.int(1), h.int(2));
            assert_eq!(read(h, improper, me), None, "Vec<i64> needs a proper tail");
        });
    }

    #[test]
    fn bindings_read_only_their_type() {
        let mut heap = Heap::default();
        heap.enter(|h| {
            let n = h.int(300);
            assert_eq!(match_term!(h, n, { x: u32 => x }), Some(300));
            assert_eq!(match_term!(h, n, { x: f64 => x }), None, "an integer is no float");
            assert_eq!(match_term!(h, h.int(-1), { x: usize => x }), None);
            assert_eq!(match_term!(h, h.atom(Atom::FALSE), { b: bool => b }), Some(false));
            assert_eq!(match_term!(h, h.binary(b"caf\xc3\xa9"), { s: String => s }).as_deref(), Some("café"));
            assert_eq!(match_term!(h, h.binary(&[0xff]), { s: String => s }), None);
            let reason = h.tuple(&[h.atom_named("shutdown"), h.int(1)]);
            assert_eq!(
                match_term!(h, reason, { r: ExitReason => r }),
                Some(ExitReason::shutdown_with(OwnedTerm::Int(1)))
            );
            let pinned = ExitReason::shutdown_with(OwnedTerm::Int(1));
            assert_eq!(match_term!(h, reason, { ^pinned => () }), Some(()));
            let mixed = h.list([h.int(1), h.atom_named("a")]);
            assert_eq!(match_term!(h, mixed, { v: Vec<i64> => v }), None);
            let owned = OwnedTerm::list(vec![OwnedTerm::Int(1), OwnedTerm::atom("a")]);
            assert_eq!(match_term!(h, mixed, { ^owned => () }), Some(()));
            let float_one = OwnedTerm::list(vec![OwnedTerm::Float(1.0), OwnedTerm::atom("a")]);
            assert_eq!(match_term!(h, mixed, { ^float_one => () }), None, "=:=, not ==");
        });
    }

    #[test]
    fn nested_patterns_and_wildcards() {
        let mut heap = Heap::default();
        heap.enter(|h| {
            let down = h.tuple(&[
                h.atom_named("DOWN"),
                h.reference(Ref::new()),
                h.atom_named("process"),
                h.pid(Pid::new(1)),
                h.atom_named("normal"),
            ]);
            let reason = match_term!(h, down, { {DOWN, _, process, _, r: ExitReason} => r });
            assert_eq!(reason, Some(ExitReason::Normal));
            let named = h.tuple(&[h.atom_named("counter"), h.atom_named("nonode@nohost")]);
            assert_eq!(match_term!(h, named, { {name: Atom, _node} => name.name() }), Some("counter"));
            let deep =
                h.tuple(&[h.atom_named("a"), h.tuple(&[h.atom_named("b"), h.list([h.tuple(&[h.int(1)])])])]);
            assert_eq!(match_term!(h, deep, { {a, {b, [{n: i64}]}} => n }), Some(1));
            assert_eq!(match_term!(h, deep, { {a, {c, _}} => 0, {a, _} => 2 }), Some(2));
            assert_eq!(match_term!(h, deep, { {a} => 0, {a, _, _} => 1 }), None, "arity counts");
            let nested = match_term!(h, deep, {
                {a, inner: Term} => match_term!(h, inner, { {b, [{n: i64}]} => n }),
            });
            assert_eq!(nested, Some(Some(1)), "a match in a body");
        });
    }

    /// Twelve arms of nested patterns stay within the macro recursion limit, and each is
    /// reached.
    #[test]
    fn many_arms_each_reached() {
        fn pick<'h>(h: Mu<'h>, t: Term<'h>) -> Option<i64> {
            match_term!(h, t, {
                {a0, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y,
                {a1, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y + 1,
                {a2, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y + 2,
                {a3, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y + 3,
                {a4, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y + 4,
                {a5, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y + 5,
                {a6, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y + 6,
                {a7, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y + 7,
                {a8, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y + 8,
                {a9, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y + 9,
                {a10, x: i64, [y: i64 | _], {_z: Atom, _}} => x + y + 10,
                {a11, x: i64, [y: i64 | _], {_z: Atom, _}} if x > 0 => x + y + 11,
            })
        }
        let mut heap = Heap::default();
        heap.enter(|h| {
            for k in 0..12 {
                let tag = h.atom_named(&format!("a{k}"));
                let t = h.tuple(&[tag, h.int(1), h.list([h.int(2)]), h.tuple(&[h.atom(Atom::OK), h.nil()])]);
                assert_eq!(pick(h, t), Some(3 + k));
            }
        });
    }

    #[test]
    fn a_body_returns_from_the_enclosing_function() {
        fn first_int<'h>(h: Mu<'h>, t: Term<'h>) -> Option<i64> {
            let n = match_term!(h, t, { [n: i64 | _] => n, _ => return Some(-1) })?;
            Some(n * 10)
        }
        let mut heap = Heap::default();
        heap.enter(|h| {
            assert_eq!(first_int(h, h.list([h.int(4)])), Some(40));
            assert_eq!(first_int(h, h.nil()), Some(-1));
        });
    }
}
