//! Ctrl-C (SIGINT), SIGTERM and SIGHUP: a measuring command stops the run under way, keeps
//! what was measured before it and exits with 128 + the signal's number (130 for Ctrl-C).
//!
//! # Protocol
//! 1. [`install`] (by the command line, once) moves the three signals to a thread of their
//!    own; nothing happens in a signal handler but waking that thread.
//! 2. The first signal sets the request ([`requested`]). Code that waits for a child process
//!    ([`crate::child`]) sees it within one poll, stops the child's whole process group
//!    and returns [`Failure::Interrupted`]; the drivers then write what the finished runs
//!    measured (summary, plots), remove their temporary directories (on drop, as the
//!    failure unwinds the stack) and the program exits with the code.
//! 3. A run in this process (a workload on heaplab's runtime) cannot be stopped halfway:
//!    while one is under way ([`InProcess`]), the signal ends the program at once, with one
//!    line saying that run is lost; there is nothing else to save in that process.
//! 4. A second signal ends the program at once, whatever is under way.
//!
//! # Invariants
//! 1. Every child heaplab starts runs in a process group of its own (see [`crate::child`]),
//!    so a terminal's Ctrl-C reaches heaplab alone and a batch system's SIGINT to heaplab
//!    alone stops the children too: heaplab stops their groups itself (step 2).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::failure::Failure;

/// The signal received first; 0 while none was (Protocol step 2).
static REQUESTED: AtomicI32 = AtomicI32::new(0);

/// Whether a run in this process is under way (Protocol step 3).
static IN_PROCESS: AtomicBool = AtomicBool::new(false);

/// Protocol step 1. Does nothing when called again.
pub fn install() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        // Without the thread the default actions stay: the program still stops on a signal.
        return;
    };
    std::thread::Builder::new()
        .name("heaplab-signals".to_owned())
        .spawn(move || {
            for signal in signals.forever() {
                let first = REQUESTED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst).is_ok();
                if !first {
                    eprintln!("heaplab: interrupted again: stopping at once");
                    std::process::exit(exit_code(signal).into());
                }
                if IN_PROCESS.load(Ordering::SeqCst) {
                    eprintln!("heaplab: interrupted: the run in progress is lost");
                    std::process::exit(exit_code(signal).into());
                }
            }
        })
        .expect("a thread for the signals can be started");
}

/// The signal that asked heaplab to stop, if one did.
pub fn requested() -> Option<i32> {
    match REQUESTED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// `Err(Failure::Interrupted)` once a signal asked to stop.
///
/// # Errors
/// [`Failure::Interrupted`] naming the signal.
pub fn check() -> Result<(), Failure> {
    match requested() {
        None => Ok(()),
        Some(signal) => Err(interrupted(signal)),
    }
}

/// The failure of a command stopped by `signal`.
pub fn interrupted(signal: i32) -> Failure {
    Failure::Interrupted { signal, message: format!("interrupted ({})", signal_name(signal)) }
}

/// The exit code after `signal`: 128 + its number, as a shell reports it.
pub fn exit_code(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(255)
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// Marks a run in this process as under way (Protocol step 3) until dropped.
#[must_use = "the mark lasts as long as the guard"]
pub struct InProcess(());

impl InProcess {
    /// Marks the run.
    ///
    /// # Errors
    /// [`Failure::Interrupted`] when a signal came before the run started.
    pub fn start() -> Result<InProcess, Failure> {
        IN_PROCESS.store(true, Ordering::SeqCst);
        if let Err(failure) = check() {
            IN_PROCESS.store(false, Ordering::SeqCst);
            return Err(failure);
        }
        Ok(InProcess(()))
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        IN_PROCESS.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal() {
        assert_eq!(exit_code(SIGINT), 130);
        assert_eq!(exit_code(SIGTERM), 143);
        let failure = interrupted(SIGINT);
        assert_eq!(failure.exit_code(), 130);
        assert_eq!(failure.message(), "interrupted (SIGINT)");
    }
}
