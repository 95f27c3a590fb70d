//! The machine a run is measured on, and its resident memory.
//!
//! # Invariants
//! 1. `rustc` is the version that compiled this binary (recorded by `build.rs`), not whatever
//!    `rustc` is on the `PATH` at run time.
//! 2. Peak resident memory is the kernel's high-water mark (`VmHWM` in `/proc/self/status`),
//!    in bytes. It covers the whole process since the last [`reset_peak_rss`]; where that
//!    reset is unsupported (kernels before 4.0, non-Linux) it covers the process's lifetime,
//!    and on systems without `/proc` it is absent rather than guessed.

use std::fs;

use crate::report::Machine;

/// The `rustc` version recorded at build time (Invariant 1).
pub const RUSTC_VERSION: &str = env!("HEAPLAB_RUSTC_VERSION");

impl Machine {
    /// The machine this process runs on.
    pub fn current() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            os: std::env::consts::OS.to_owned(),
            rustc: RUSTC_VERSION.to_owned(),
        }
    }
}

/// The peak resident set size in bytes, if the system reports it (Invariant 2).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// Restarts the peak-RSS measurement at the current resident size, so a report counts only
/// its own run. Best effort: does nothing where unsupported (Invariant 2).
pub fn reset_peak_rss() {
    // Writing "5" to clear_refs resets VmHWM (proc(5), Linux 4.0 and later).
    let _ = fs::write("/proc/self/clear_refs", "5");
}

/// The resident set size of this process now (`VmRSS`), in bytes; `None` without `/proc`.
pub fn resident_bytes() -> Option<u64> {
    status_field_bytes(&fs::read_to_string("/proc/self/status").ok()?, "VmRSS")
}

/// The kernel release (`uname -r`), from `/proc` on Linux.
pub fn kernel_release() -> Option<String> {
    let text = fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    Some(text.trim().to_owned()).filter(|release| !release.is_empty())
}

/// The CPU model name, from `/proc/cpuinfo`.
pub fn cpu_model() -> Option<String> {
    let text = fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}

/// Physical memory in bytes (`MemTotal`).
pub fn memory_bytes() -> Option<u64> {
    status_field_bytes(&fs::read_to_string("/proc/meminfo").ok()?, "MemTotal")
}

/// What bounds the memory a run may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryBound {
    /// Memory the kernel can give without swapping (`MemAvailable`).
    Machine,
    /// The cgroup's memory limit less what the cgroup uses.
    Cgroup,
    /// The address-space limit (`ulimit -v`, `RLIMIT_AS`) less what this process maps.
    AddressSpace,
}

impl MemoryBound {
    /// How a message names it.
    pub fn describe(self) -> &'static str {
        match self {
            MemoryBound::Machine => "available on the machine",
            MemoryBound::Cgroup => "left under the cgroup's memory limit",
            MemoryBound::AddressSpace => "left under the address-space limit (ulimit -v)",
        }
    }
}

/// The memory a run can still get, in bytes, and what bounds it: the least of `MemAvailable`,
/// the cgroup v2 limit less its use, and `RLIMIT_AS` less this process's mapped size.
/// `None` where none of them can be read.
pub fn available_memory() -> Option<(u64, MemoryBound)> {
    let mut bounds = Vec::new();
    if let Some(bytes) =
        fs::read_to_string("/proc/meminfo").ok().and_then(|text| status_field_bytes(&text, "MemAvailable"))
    {
        bounds.push((bytes, MemoryBound::Machine));
    }
    let cgroup = fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|max| {
        let limit: u64 = max.trim().parse().ok()?;
        let used: u64 = fs::read_to_string("/sys/fs/cgroup/memory.current").ok()?.trim().parse().ok()?;
        Some(limit.saturating_sub(used))
    });
    if let Some(bytes) = cgroup {
        bounds.push((bytes, MemoryBound::Cgroup));
    }
    if let Ok((soft, _)) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_AS) {
        if soft != nix::sys::resource::RLIM_INFINITY {
            let mapped = fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|text| status_field_bytes(&text, "VmSize"))
                .unwrap_or(0);
            bounds.push((soft.saturating_sub(mapped), MemoryBound::AddressSpace));
        }
    }
    bounds.into_iter().min_by_key(|(bytes, _)| *bytes)
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`).
pub fn load_average() -> Option<[f64; 3]> {
    let text = fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(|field| field.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

/// The `VmHWM:` line of a `/proc/<pid>/status` text, in bytes.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    status_field_bytes(status, "VmHWM")
}

/// A `NAME:  N kB` line of a `/proc/<pid>/status` text, in bytes.
pub fn status_field_bytes(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.strip_prefix(name).is_some_and(|r| r.starts_with(':')))?;
    let mut fields = line[name.len() + 1..].split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => Some(value * 1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_bytes() {
        let status = "Name:\theaplab\nVmPeak:\t  20000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(1234 * 1024));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
        assert_eq!(status_field_bytes(status, "VmRSS"), Some(1000 * 1024));
        assert_eq!(status_field_bytes(status, "VmRS"), None);
    }

    #[test]
    fn the_current_machine_is_described() {
        let machine = Machine::current();
        assert!(machine.cores >= 1);
        assert!(!machine.os.is_empty());
        assert!(machine.rustc.chars().next().is_some_and(|c| c.is_ascii_digit()), "{machine:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn peak_rss_is_reported_on_linux() {
        reset_peak_rss();
        assert!(peak_rss_bytes().is_some_and(|bytes| bytes > 0));
    }
}
