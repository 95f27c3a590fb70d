//! Failures of a command and the exit codes they map to.
//!
//! # Invariants
//! 1. A [`Failure`] message is one line, so the CLI prints it
//!    as `heaplab: <message>` and scripts can grep it.
//! 2. Bad input from the command line is [`Failure::Usage`] (exit code 2, as for argument
//!    errors found by the parser); anything that goes wrong while running is
//!    [`Failure::Run`] (exit code 1); a run stopped by a signal is [`Failure::Interrupted`]
//!    (exit code 128 + the signal, 130 for Ctrl-C; see [`crate::interrupt`]).

use std::fmt;

/// Why a command did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The command line asked for something invalid or unavailable; nothing was run.
    Usage(String),
    /// The run itself failed (an I/O error writing a report, a heap error, ...).
    Run(String),
    /// A signal stopped the command; what was measured before it is kept.
    Interrupted {
        /// The signal's number.
        signal: i32,
        /// The one-line message.
        message: String,
    },
}

impl Failure {
    /// A usage failure with this message.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::Usage(one_line(message.into()))
    }

    /// A run failure with this message.
    pub fn run(message: impl Into<String>) -> Failure {
        Failure::Run(one_line(message.into()))
    }

    /// The process exit code for this failure: 2 for usage, 1 for a failed run, 128 + the
    /// signal for an interrupted one.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Run(_) => 1,
            Failure::Interrupted { signal, .. } => crate::interrupt::exit_code(*signal),
        }
    }

    /// Whether a signal stopped the command.
    pub fn is_interrupt(&self) -> bool {
        matches!(self, Failure::Interrupted { .. })
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(message) | Failure::Run(message) | Failure::Interrupted { message, .. } => message,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Failure {}

/// Joins the lines of `message` with "; " so a message never spans lines (Invariant 1).
pub(crate) fn one_line(message: String) -> String {
    if !message.contains('\n') {
        return message;
    }
    message.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_cli_contract() {
        assert_eq!(Failure::usage("bad").exit_code(), 2);
        assert_eq!(Failure::run("broken").exit_code(), 1);
    }

    #[test]
    fn messages_are_folded_onto_one_line() {
        let failure = Failure::run("first\n  second\n\nthird");
        assert_eq!(failure.message(), "first; second; third");
    }
}
