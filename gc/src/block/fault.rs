//! Test-only fault injection: make a chosen block allocation fail, to check that a failure at
//! any point of a collection ends the program cleanly instead of leaving a torn heap behind.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// How an injected failure shows itself.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// As a real one does: the program aborts with the out-of-memory message.
    Abort,
    /// As a panic out of the allocation (what `expect` on a failed map used to do): the
    /// abort-on-unwind guard of the collection must turn it into an abort.
    Panic,
}

/// Allocations still allowed before the injected failure; `u64::MAX` = never fail.
static ALLOWED: AtomicU64 = AtomicU64::new(u64::MAX);
static HOW: AtomicU8 = AtomicU8::new(0);

/// Makes the block allocation after the next `n` fail (in any thread), as `how` says.
pub fn fail_block_allocation_after(n: u64, how: Failure) {
    HOW.store(how as u8, Ordering::SeqCst);
    ALLOWED.store(n, Ordering::SeqCst);
}

/// The failure due now, if this allocation is the one to fail.
pub(super) fn due() -> Option<Failure> {
    let fails = ALLOWED
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
            u64::MAX => None,
            0 => Some(u64::MAX),
            n => Some(n - 1),
        })
        .is_ok_and(|left| left == 0);
    fails.then(|| {
        if HOW.load(Ordering::SeqCst) == Failure::Panic as u8 {
            Failure::Panic
        } else {
            Failure::Abort
        }
    })
}
