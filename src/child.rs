//! Running another program to completion within a time limit: the BEAM for a workload's
//! Erlang version, and `heaplab bench` for an isolated run of `compare` or `reproduce`; and
//! the temporary directory such a run works in.
//!
//! # Invariants
//! 1. A child still running at its limit is killed and reaped; the caller gets an error
//!    naming the limit, never a hang.
//! 2. Standard output and error are read while the child runs (on two threads), so a child
//!    that writes more than a pipe holds cannot block on a full pipe.
//! 3. Every child runs in a process group of its own, and is stopped as a group: whatever
//!    it started (the emulator behind `erl`, a nested run's `erl`) stops with it. On an
//!    interrupt ([`crate::interrupt`]) the group gets SIGTERM, and SIGKILL after
//!    [`GRACE`] (a nested heaplab uses the grace to stop its own children and remove its
//!    temporary directory); the caller gets [`Failure::Interrupted`].
//! 4. Children run one at a time, so the getrusage figures of this process's children
//!    before and after a child's run differ by that child's use ([`Finished::usage`]).

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::failure::Failure;
use crate::interrupt;
use crate::provenance::Usage;

/// How often the child is checked for having exited.
const POLL: Duration = Duration::from_millis(10);

/// How long an interrupted child's group gets between SIGTERM and SIGKILL (Invariant 3).
pub const GRACE: Duration = Duration::from_secs(3);

/// A child that ran to its end.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status and output.
    pub output: Output,
    /// From start to exit.
    pub elapsed: Duration,
    /// Its CPU time and page faults, and those of its own children it waited for (Invariant 4).
    pub usage: Usage,
}

/// Runs `command` with piped standard output and error and waits for it, at most `limit`.
///
/// # Errors
/// A one-line run failure when the program cannot be started or ran past `limit`
/// (Invariant 1); [`Failure::Interrupted`] when a signal stopped it (Invariant 3).
pub fn output_within(command: &mut Command, limit: Duration) -> Result<Output, Failure> {
    run_within(command, limit).map(|finished| finished.output)
}

/// [`output_within`], with the child's running time and resource use.
///
/// # Errors
/// As [`output_within`].
pub fn run_within(command: &mut Command, limit: Duration) -> Result<Finished, Failure> {
    interrupt::check()?;
    let program = command.get_program().to_string_lossy().into_owned();
    let usage_before = Usage::of_children();
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| Failure::run(format!("cannot run '{program}': {e}")))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_within(&mut child, limit).map_err(|wait| match wait {
        Wait::Interrupted(signal) => interrupt::interrupted(signal),
        Wait::Failed(why) => Failure::run(format!("'{program}': {why}")),
    })?;
    let elapsed = started.elapsed();
    let usage = Usage::of_children().since(usage_before);
    Ok(Finished { output: Output { status, stdout: join(stdout), stderr: join(stderr) }, elapsed, usage })
}

/// Reads a pipe to its end on its own thread (Invariant 2).
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Option<JoinHandle<Vec<u8>>> {
    pipe.map(|mut pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    })
}

fn join(reader: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    reader.and_then(|r| r.join().ok()).unwrap_or_default()
}

/// Why a wait ended without an exit status.
enum Wait {
    Failed(String),
    Interrupted(i32),
}

/// Waits for `child` until `limit`; kills and reaps its group past that (Invariant 1) or on
/// an interrupt (Invariant 3).
fn wait_within(child: &mut Child, limit: Duration) -> Result<ExitStatus, Wait> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                stop_group(child, Duration::ZERO);
                return Err(Wait::Failed(format!("still running after {} s, killed", limit.as_secs())));
            }
            Ok(None) => match interrupt::requested() {
                Some(signal) => {
                    stop_group(child, GRACE);
                    return Err(Wait::Interrupted(signal));
                }
                None => std::thread::sleep(POLL),
            },
            Err(e) => return Err(Wait::Failed(format!("cannot wait for it: {e}"))),
        }
    }
}

/// Stops `child`'s process group: SIGTERM, then SIGKILL after `grace` (at once when zero),
/// and reaps the child (Invariant 3).
fn stop_group(child: &mut Child, grace: Duration) {
    let Ok(id) = i32::try_from(child.id()) else { return };
    // The child leads its group (`process_group(0)`); its pid names the group, and cannot be
    // reused before the child is reaped below.
    let group = Pid::from_raw(id);
    if !grace.is_zero() {
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                // Whatever the child left in its group goes too.
                let _ = killpg(group, Signal::SIGKILL);
                return;
            }
            std::thread::sleep(POLL);
        }
    }
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait();
}

/// A directory under the system's temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory named after `prefix`, this process and the time.
    ///
    /// # Errors
    /// A one-line message when it cannot be created.
    pub fn new(prefix: &str) -> Result<TempDir, String> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("heaplab-{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| format!("cannot create '{}': {e}", path.display()))?;
        Ok(TempDir(path))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_status_come_back() {
        let output = output_within(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
        assert_eq!(output.status.code(), Some(3));
    }

    #[test]
    fn a_child_past_its_limit_is_killed() {
        let started = Instant::now();
        let error = output_within(Command::new("sleep").arg("600"), Duration::from_millis(200)).unwrap_err();
        assert!(error.message().contains("killed"), "{error}");
        // Killed, not waited for: far less than the child's 600 s.
        assert!(started.elapsed() < Duration::from_secs(300));
    }

    #[test]
    fn more_output_than_a_pipe_holds_does_not_block() {
        let output = output_within(
            Command::new("sh").args(["-c", "head -c 1000000 /dev/zero"]),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(output.stdout.len(), 1_000_000);
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let error = output_within(&mut Command::new("/nonexistent/heaplab-child"), Duration::from_secs(1))
            .unwrap_err();
        assert!(error.message().contains("cannot run"), "{error}");
    }

    #[test]
    fn a_killed_child_takes_its_group_along() {
        // The shell starts a grandchild that would outlive it; both are in the child's group.
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild.pid");
        let script = format!("sleep 600 & echo $! > {}; wait", marker.display());
        let error =
            output_within(Command::new("sh").args(["-c", &script]), Duration::from_millis(500)).unwrap_err();
        assert!(error.message().contains("killed"), "{error}");
        let pid: i32 = std::fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
        // Gone, or a zombie waiting for init to reap it, once the kill is delivered.
        let gone = || {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            status.is_empty() || status.contains("State:\tZ")
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !gone() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(), "the grandchild {pid} outlived its group's kill");
    }

    #[test]
    fn a_childs_usage_is_measured() {
        let finished = run_within(
            Command::new("sh").args(["-c", "head -c 50000000 /dev/zero | wc -c"]),
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(finished.output.status.success());
        assert!(finished.usage.minor_faults > 0, "{:?}", finished.usage);
        assert!(finished.elapsed > Duration::ZERO);
    }
}
