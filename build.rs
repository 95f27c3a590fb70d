//! Records what built the binary, so every report names it: the `rustc` version, and the git
//! commit of the source with a flag for uncommitted changes to the files the binary is built
//! from (see `provenance` in docs/workloads.md).

use std::path::Path;
use std::process::Command;

/// The paths whose uncommitted changes make a build "dirty": everything compiled into the
/// binary (the Erlang, Java and Go sources in peers/ are embedded), nothing else (papers/, docs/, tests/ are not).
const SOURCE_PATHS: [&str; 7] = ["src", "gc", "runtime", "peers", "build.rs", "Cargo.toml", "Cargo.lock"];

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    // `rustc --version` prints e.g. "rustc 1.95.0 (59807616e 2026-04-14)"; the report keeps
    // the version number, the form the report schema shows.
    let version = output(Command::new(&rustc).arg("--version"))
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=HEAPLAB_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-changed=build.rs");

    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    let mut status = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    status.extend(SOURCE_PATHS);
    let dirty = git(&status).is_some_and(|changes| !changes.is_empty());
    println!("cargo:rustc-env=HEAPLAB_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=HEAPLAB_GIT_DIRTY={dirty}");
    // Run again when HEAD moves (a commit, a checkout) or a source file changes.
    for path in SOURCE_PATHS {
        println!("cargo:rerun-if-changed={path}");
    }
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]) {
        for file in ["HEAD", "index"] {
            let path = Path::new(&git_dir).join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}

fn git(args: &[&str]) -> Option<String> {
    output(Command::new("git").args(args))
}

fn output(command: &mut Command) -> Option<String> {
    command
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_owned())
}
