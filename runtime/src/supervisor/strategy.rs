//! The restart rules as pure functions: whether an exit calls for a restart (by restart
//! type), and which children a restart involves (by strategy).
//!
//! # Invariants
//! 1. The children a restart involves are a suffix of the static list, starting at the
//!    child that exited (`rest_for_one`), at the first child (`one_for_all`), or just that
//!    child (`one_for_one`); they are terminated from the end of the list backwards and
//!    started again from the front, so start order and reverse shutdown order hold.

use std::ops::Range;

use crate::exit::ExitReason;

use super::spec::{Restart, Strategy};

/// Whether a child with `restart` that exited with `reason` is restarted (OTP's
/// `do_restart/4`): permanent always; transient unless the reason is `normal`, `shutdown`
/// or `{shutdown, _}`; temporary never.
pub(crate) fn restarts(restart: Restart, reason: &ExitReason) -> bool {
    match restart {
        Restart::Permanent => true,
        Restart::Transient => !reason.is_orderly(),
        Restart::Temporary => false,
    }
}

/// The positions of the static children a restart of the child at `failed` involves, out
/// of `len` (Invariant 1).
pub(crate) fn involved(strategy: Strategy, failed: usize, len: usize) -> Range<usize> {
    match strategy {
        Strategy::OneForOne | Strategy::SimpleOneForOne => failed..failed + 1,
        Strategy::OneForAll => 0..len,
        Strategy::RestForOne => failed..len,
    }
}

#[cfg(test)]
mod tests {
    use heaplab_gc::OwnedTerm;

    use super::*;

    #[test]
    fn restart_types_follow_otp() {
        let shutdown_tuple = ExitReason::shutdown_with(OwnedTerm::Int(1));
        let crash = ExitReason::atom("crash");
        for reason in [ExitReason::Normal, ExitReason::Shutdown, shutdown_tuple.clone()] {
            assert!(restarts(Restart::Permanent, &reason));
            assert!(!restarts(Restart::Transient, &reason), "{reason}");
            assert!(!restarts(Restart::Temporary, &reason));
        }
        for reason in [crash, ExitReason::Killed, ExitReason::Panic("p".into())] {
            assert!(restarts(Restart::Permanent, &reason));
            assert!(restarts(Restart::Transient, &reason), "{reason}");
            assert!(!restarts(Restart::Temporary, &reason));
        }
    }

    #[test]
    fn strategies_involve_the_documented_children() {
        assert_eq!(involved(Strategy::OneForOne, 2, 5), 2..3);
        assert_eq!(involved(Strategy::OneForAll, 2, 5), 0..5);
        assert_eq!(involved(Strategy::RestForOne, 2, 5), 2..5);
        assert_eq!(involved(Strategy::RestForOne, 4, 5), 4..5);
    }
}
