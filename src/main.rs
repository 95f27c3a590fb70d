//! The `heaplab` command: the command line of [`heaplab::cli::main`] with the built-in
//! workloads.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    heaplab::cli::main()
}
