//! Exit reasons: why a process ended, or what an exit signal carries.
//!
//! # Invariants
//! 1. Reasons are normalised: the atoms `normal`, `kill`, `killed` and `shutdown` and the
//!    term `{panic, Message}` (a UTF-8 binary message) are always the dedicated variants,
//!    never `Other`, so a reason read back from its term (from an `'EXIT'` or `'DOWN'`
//!    message) equals the reason, and equality of reasons is equality of terms. The one
//!    exception is [`ExitReason::MaxHeapSize`], whose term does not carry the limit: read
//!    back, it is `Other({max_heap_size, Words})`.

use std::fmt;

use heaplab_gc::{Atom, OwnedTerm};

/// Why a process ended, as links and monitors see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// The body returned: `normal`.
    Normal,
    /// `kill`: as the reason of `exit(Pid, kill)` it is untrappable; the killed process
    /// then exits with `killed`.
    Kill,
    /// Killed by an untrappable `kill` signal.
    Killed,
    /// `shutdown`: a supervisor's orderly stop, or the runtime shutting down.
    Shutdown,
    /// The body panicked: `{panic, Message}`.
    Panic(String),
    /// A collection left the heap above `max_heap_size`: `{max_heap_size, Words}`.
    MaxHeapSize {
        /// The limit in words.
        limit: usize,
        /// The heap's size after the collection, in words.
        size: usize,
    },
    /// Any other reason term.
    Other(OwnedTerm),
}

impl ExitReason {
    /// A reason from a term, normalised (Invariant 1).
    pub fn from_term(term: OwnedTerm) -> ExitReason {
        match &term {
            OwnedTerm::Atom(a) if *a == Atom::NORMAL => ExitReason::Normal,
            OwnedTerm::Atom(a) if *a == Atom::KILL => ExitReason::Kill,
            OwnedTerm::Atom(a) if *a == Atom::KILLED => ExitReason::Killed,
            OwnedTerm::Atom(a) if a.name() == "shutdown" => ExitReason::Shutdown,
            OwnedTerm::Tuple(items) => match items.as_slice() {
                [OwnedTerm::Atom(tag), OwnedTerm::Binary(message)] if tag.name() == "panic" => {
                    match std::str::from_utf8(message) {
                        Ok(message) => ExitReason::Panic(message.to_owned()),
                        Err(_) => ExitReason::Other(term),
                    }
                }
                _ => ExitReason::Other(term),
            },
            _ => ExitReason::Other(term),
        }
    }

    /// A reason that is the atom `name`.
    pub fn atom(name: &str) -> ExitReason {
        ExitReason::from_term(OwnedTerm::atom(name))
    }

    /// `noproc`: the process did not exist.
    pub fn noproc() -> ExitReason {
        ExitReason::atom("noproc")
    }

    /// `{shutdown, Info}`: an orderly stop that carries information, which a supervisor does
    /// not treat as a failure (a transient child that ends so is not restarted; OTP
    /// `supervisor`, "restart").
    ///
    /// ```
    /// use heaplab_runtime::heaplab_gc::OwnedTerm;
    /// use heaplab_runtime::ExitReason;
    ///
    /// let reason = ExitReason::shutdown_with(OwnedTerm::atom("idle"));
    /// assert_eq!(reason.to_string(), "{shutdown,idle}");
    /// assert_eq!(reason.shutdown_info(), Some(&OwnedTerm::atom("idle")));
    /// ```
    pub fn shutdown_with(info: impl Into<OwnedTerm>) -> ExitReason {
        ExitReason::Other(OwnedTerm::tuple(vec![OwnedTerm::atom("shutdown"), info.into()]))
    }

    /// The `Info` of `{shutdown, Info}`, if this is such a reason.
    pub fn shutdown_info(&self) -> Option<&OwnedTerm> {
        match self {
            ExitReason::Other(OwnedTerm::Tuple(items)) => match items.as_slice() {
                [OwnedTerm::Atom(tag), info] if tag.name() == "shutdown" => Some(info),
                _ => None,
            },
            _ => None,
        }
    }

    /// `normal`, `shutdown` or `{shutdown, _}`: an exit that is not a failure (OTP's
    /// supervisor does not restart a transient child that ends so, and does not report it).
    pub fn is_orderly(&self) -> bool {
        matches!(self, ExitReason::Normal | ExitReason::Shutdown) || self.shutdown_info().is_some()
    }

    /// The reason as an Erlang term.
    pub fn to_term(&self) -> OwnedTerm {
        match self {
            ExitReason::Normal => OwnedTerm::Atom(Atom::NORMAL),
            ExitReason::Kill => OwnedTerm::Atom(Atom::KILL),
            ExitReason::Killed => OwnedTerm::Atom(Atom::KILLED),
            ExitReason::Shutdown => OwnedTerm::atom("shutdown"),
            ExitReason::Panic(msg) => {
                OwnedTerm::tuple(vec![OwnedTerm::atom("panic"), OwnedTerm::Binary(msg.as_bytes().to_vec())])
            }
            ExitReason::MaxHeapSize { size, .. } => {
                OwnedTerm::tuple(vec![OwnedTerm::atom("max_heap_size"), OwnedTerm::Int(*size as i64)])
            }
            ExitReason::Other(t) => t.clone(),
        }
    }

    /// Whether this is `normal`.
    pub fn is_normal(&self) -> bool {
        *self == ExitReason::Normal
    }
}

impl From<OwnedTerm> for ExitReason {
    fn from(t: OwnedTerm) -> Self {
        ExitReason::from_term(t)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Panic(msg) => write!(f, "{{panic,{msg:?}}}"),
            other => write!(f, "{}", other.to_term()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_normalised_and_print_as_terms() {
        assert_eq!(ExitReason::atom("normal"), ExitReason::Normal);
        assert_eq!(ExitReason::atom("kill"), ExitReason::Kill);
        assert_eq!(ExitReason::atom("killed"), ExitReason::Killed);
        assert_eq!(ExitReason::atom("shutdown"), ExitReason::Shutdown);
        assert_eq!(ExitReason::noproc().to_string(), "noproc");
        assert_eq!(ExitReason::MaxHeapSize { limit: 10, size: 20 }.to_string(), "{max_heap_size,20}");
        assert_eq!(ExitReason::Panic("boom".into()).to_string(), "{panic,\"boom\"}");
    }

    #[test]
    fn a_reason_read_back_from_its_term_is_the_same_reason() {
        let reasons = [
            ExitReason::Normal,
            ExitReason::Kill,
            ExitReason::Killed,
            ExitReason::Shutdown,
            ExitReason::Panic("boom".into()),
            ExitReason::atom("other"),
            ExitReason::shutdown_with(OwnedTerm::Int(1)),
        ];
        for reason in reasons {
            assert_eq!(ExitReason::from_term(reason.to_term()), reason);
        }
        let not_utf8 = OwnedTerm::tuple(vec![OwnedTerm::atom("panic"), OwnedTerm::Binary(vec![0xff])]);
        assert_eq!(ExitReason::from_term(not_utf8.clone()), ExitReason::Other(not_utf8));
    }

    #[test]
    fn shutdown_with_builds_and_reads_the_tuple() {
        let reason = ExitReason::shutdown_with(OwnedTerm::Int(3));
        let tuple = OwnedTerm::tuple(vec![OwnedTerm::atom("shutdown"), OwnedTerm::Int(3)]);
        assert_eq!(reason, ExitReason::Other(tuple));
        assert_eq!(reason.shutdown_info(), Some(&OwnedTerm::Int(3)));
        assert_eq!(ExitReason::Shutdown.shutdown_info(), None);
        assert_eq!(ExitReason::atom("oops").shutdown_info(), None);
        for orderly in [ExitReason::Normal, ExitReason::Shutdown, reason] {
            assert!(orderly.is_orderly(), "{orderly}");
        }
        for failure in [ExitReason::Killed, ExitReason::atom("oops"), ExitReason::Panic("p".into())] {
            assert!(!failure.is_orderly(), "{failure}");
        }
    }
}
