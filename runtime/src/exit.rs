//! Exit reasons: why a process ended.

use std::fmt;

use heaplab_gc::{Atom, OwnedTerm};

/// Why a process ended, as the BEAM reports it to links and monitors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// The body returned: `normal`.
    Normal,
    /// Killed by an untrappable `kill` signal; seen as `killed`.
    Killed,
    /// The body panicked: `{panic, Message}`.
    Panic(String),
    /// A collection left the heap above `max_heap_size`: `{max_heap_size, Words}`.
    MaxHeapSize {
        /// The limit in words.
        limit: usize,
        /// The heap's size after the collection, in words.
        size: usize,
    },
    /// The runtime shut down while the process was alive: `shutdown`.
    Shutdown,
    /// Any other reason term.
    Other(OwnedTerm),
}

impl ExitReason {
    /// The reason as an Erlang term.
    pub fn to_term(&self) -> OwnedTerm {
        match self {
            ExitReason::Normal => OwnedTerm::Atom(Atom::NORMAL),
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

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Panic(msg) => write!(f, "{{panic,{msg:?}}}"),
            other => write!(f, "{}", other.to_term()),
        }
    }
}
