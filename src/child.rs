//! Running another program to completion within a time limit: the BEAM for a workload's
//! Erlang version, and `heaplab bench` for an isolated run of `compare` or `reproduce`; and
//! the temporary directory such a run works in.
//!
//! # Invariants
//! 1. A child still running at its limit is killed and reaped; the caller gets an error
//!    naming the limit, never a hang.
//! 2. Standard output and error are read while the child runs (on two threads), so a child
//!    that writes more than a pipe holds cannot block on a full pipe.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often the child is checked for having exited.
const POLL: Duration = Duration::from_millis(10);

/// Runs `command` with piped standard output and error and waits for it, at most `limit`.
///
/// # Errors
/// A one-line message when the program cannot be started or ran past `limit` (Invariant 1).
pub fn output_within(command: &mut Command, limit: Duration) -> Result<Output, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run '{program}': {e}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_within(&mut child, limit).map_err(|e| format!("'{program}': {e}"))?;
    Ok(Output { status, stdout: join(stdout), stderr: join(stderr) })
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

/// Waits for `child` until `limit`; kills and reaps it past that (Invariant 1).
fn wait_within(child: &mut Child, limit: Duration) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {} s, killed", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
    }
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
        assert!(error.contains("killed"), "{error}");
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
        assert!(error.contains("cannot run"), "{error}");
    }
}
