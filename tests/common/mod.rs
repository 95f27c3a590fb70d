//! Helpers shared by the end-to-end tests of the `heaplab` binary.

#![cfg(unix)]
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `heaplab` binary with `args`.
pub fn heaplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heaplab")).args(args).output().expect("the heaplab binary runs")
}

/// Runs the `heaplab` binary with `args` and `PATH` set to `path` alone (to hide a runtime).
pub fn heaplab_with_path(args: &[&str], path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heaplab"))
        .args(args)
        .env("PATH", path)
        .output()
        .expect("the heaplab binary runs")
}

/// A run's standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// When [`interrupt_when`] sends its signal.
pub enum Ready<'a> {
    /// Once standard error shows a line containing this.
    Line(&'a str),
    /// After a second.
    Soon,
    /// Once this holds (checked every 50 ms, for at most 2 minutes).
    When(&'a dyn Fn() -> bool),
}

/// Starts `heaplab` with `args`, waits until `ready`, sends it `signal` (as `kill` names
/// it) and returns its exit status and everything it wrote on standard error.
pub fn interrupt_when(
    args: &[&str],
    env: &[(&str, &Path)],
    ready: Ready<'_>,
    signal: &str,
) -> (std::process::ExitStatus, String) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::Duration;
    let mut command = Command::new(env!("CARGO_BIN_EXE_heaplab"));
    command.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let reader = BufReader::new(child.stderr.take().unwrap());
    let collector = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in reader.lines().map_while(Result::ok) {
            seen.push_str(&line);
            seen.push('\n');
            let _ = lines_tx.send(line);
        }
        seen
    });
    match ready {
        Ready::Line(ready) => {
            while let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(300)) {
                if line.contains(ready) {
                    break;
                }
            }
        }
        Ready::Soon => std::thread::sleep(Duration::from_secs(1)),
        Ready::When(holds) => {
            let deadline = std::time::Instant::now() + Duration::from_secs(120);
            while !holds() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    // Only heaplab gets the signal, as from a batch system; its children are in groups of
    // their own.
    assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    (status, collector.join().unwrap())
}

/// The processes whose command line mentions `needle`, other than this test's own.
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid = entry.file_name().to_string_lossy().into_owned();
            if pid == me || !pid.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            // A zombie has an empty command line; it is already gone.
            cmdline.contains(needle).then(|| format!("{pid}: {cmdline}"))
        })
        .collect()
}
