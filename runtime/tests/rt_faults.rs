//! A collection that fails inside a running runtime ends the program with a clear message,
//! as the BEAM ends the VM when a process heap cannot be allocated: it is never caught as the
//! process's panic (whose heap the runtime would then drop half-collected), and it never
//! leaves the other schedulers waiting at a safepoint for a collection that will not finish.
//!
//! Each scenario runs in a child process (this test binary again, the scenario named in an
//! environment variable), which must abort within a time limit.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use heaplab_runtime::heaplab_gc::fault::{fail_block_allocation_after, Failure};
use heaplab_runtime::heaplab_gc::Collect;
use heaplab_runtime::{HeapKind, Runtime};

const SCENARIO: &str = "HEAPLAB_RT_FAULT_SCENARIO";
const SIGABRT: i32 = 6;
const LIMIT: Duration = Duration::from_secs(60);

/// Runs the scenario named by the environment (nothing without one, as in a normal run).
#[test]
fn scenario() {
    let Ok(name) = std::env::var(SCENARIO) else { return };
    let (kind, how) = match name.as_str() {
        "per-process-panic" => (HeapKind::PerProcess, Failure::Panic),
        "per-process-out-of-memory" => (HeapKind::PerProcess, Failure::Abort),
        "shared-panic" => (HeapKind::shared(), Failure::Panic),
        "shared-out-of-memory" => (HeapKind::shared(), Failure::Abort),
        other => panic!("unknown scenario {other}"),
    };
    let rt = Runtime::builder().schedulers(2).heap_kind(kind).report_panics(false).build().unwrap();
    // A bystander keeps the other scheduler busy (allocating nothing, so the injected
    // failure is the collection's): a shared-heap stop must stop it too.
    rt.spawn(|mut cx| async move {
        loop {
            cx.yield_now().await;
        }
    })
    .unwrap();
    let _ = rt.block_on(move |mut cx| async move {
        let _live =
            cx.with(|h| h.root(h.list((0..50_000).map(|i| h.tuple(&[h.int(i), h.binary(&[1; 100])])))));
        // The next block allocated anywhere (the to-space, an old-generation chunk) fails.
        fail_block_allocation_after(0, how);
        cx.collect_now(Collect::Major).await;
        cx.garbage_collect().await;
    });
    unreachable!("scenario {name} survived its injected failure");
}

/// Runs `name` in a child and checks that it aborted with `message` on stderr in time.
fn expect_clean_abort(name: &str, message: &str) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["scenario", "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, name)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            child.kill().unwrap();
            panic!("scenario {name} hung: a failed collection left the runtime waiting");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.signal(), Some(SIGABRT), "scenario {name}: {status:?}\n{stderr}");
    assert!(stderr.contains(message), "scenario {name}: no `{message}` in\n{stderr}");
}

#[test]
fn a_panic_in_a_process_collection_aborts_instead_of_ending_the_process() {
    expect_clean_abort("per-process-panic", "heaplab-gc: a panic unwound out of a per-process collection");
}

#[test]
fn a_process_heap_that_cannot_be_allocated_ends_the_program() {
    expect_clean_abort("per-process-out-of-memory", "heaplab-gc: cannot allocate a heap block of");
}

#[test]
fn a_panic_in_a_shared_collection_aborts_instead_of_stalling_the_schedulers() {
    expect_clean_abort("shared-panic", "heaplab-gc: a panic unwound out of a shared-heap collection");
}

#[test]
fn a_shared_heap_that_cannot_grow_ends_the_program() {
    expect_clean_abort("shared-out-of-memory", "heaplab-gc: cannot allocate a heap block of");
}
