//! The `heaplab` command: parses the command line and maps failures to exit codes (2 for
//! bad arguments, 1 for a failed run), printing each failure on one line.

#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match heaplab::cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version: print to stdout, exit 0.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) if error.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `heaplab` alone: the full help is more useful than one line; still exit 2.
            let _ = error.print();
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("heaplab: {}", heaplab::cli::one_line_error(&error));
            return ExitCode::from(2);
        }
    };
    match heaplab::cli::execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("heaplab: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
