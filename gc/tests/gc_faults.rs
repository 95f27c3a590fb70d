//! Fault injection: a heap block that cannot be had in the middle of a collection ends the
//! program with a clear message, as `handle_alloc_error` does and as the BEAM does
//! (`erts_alloc_enomem`), never with a torn heap that a later drop would read; a panic out of
//! a collection (what a failed `expect` used to raise) is turned into the same clean abort.
//!
//! Each scenario runs in a child process: this test binary again, with the scenario named
//! in an environment variable and only [`scenario`] selected. Where valgrind is installed the
//! child runs under it, so a read of freed memory on the way out fails the test too.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use heaplab_gc::fault::{fail_block_allocation_after, Failure};
use heaplab_gc::shared::{SharedHeap, SharedOptions};
use heaplab_gc::{Collect, Heap, OwnedTerm};

const SCENARIO: &str = "HEAPLAB_GC_FAULT_SCENARIO";
const SIGABRT: i32 = 6;

/// Runs the scenario named by the environment (nothing without one, as in a normal run).
#[test]
fn scenario() {
    let Ok(name) = std::env::var(SCENARIO) else { return };
    match name.as_str() {
        "major-to-space" => major_to_space(),
        "minor-old-generation" => minor_old_generation(),
        "shrink-after-major" => shrink_after_major(),
        "panic-in-major" => panic_in_major(),
        "shared-old-chunk" => shared_old_chunk(Failure::Abort),
        "shared-panic" => shared_old_chunk(Failure::Panic),
        other => panic!("unknown scenario {other}"),
    }
    unreachable!("scenario {name} survived its injected failure");
}

/// A heap holding `words` live words in a rooted list of binaries and tuples (binaries, so
/// that a torn heap's MSO sweep on drop would touch freed memory).
fn heap_with_live_data(words: i64) -> (Heap, heaplab_gc::Root) {
    let mut heap = Heap::default();
    let root = heap.enter(|h| {
        let items: Vec<_> = (0..words / 8)
            .map(|i| h.tuple(&[h.int(i), h.binary(&[i as u8; 100]), h.list([h.int(i)])]))
            .collect();
        h.root(h.list(items))
    });
    (heap, root)
}

fn major_to_space() {
    let (mut heap, _root) = heap_with_live_data(20_000);
    // The next block is the major collection's to-space.
    fail_block_allocation_after(0, Failure::Abort);
    let _ = heap.collect(Collect::Major);
}

fn minor_old_generation() {
    let (mut heap, _root) = heap_with_live_data(20_000);
    heap.collect(Collect::Major).unwrap();
    // Mature data and no old generation: the minor collection creates one first.
    fail_block_allocation_after(0, Failure::Abort);
    let _ = heap.collect(Collect::Minor);
}

fn shrink_after_major() {
    let (mut heap, root) = heap_with_live_data(100_000);
    heap.collect(Collect::Major).unwrap();
    drop(root);
    let _small = heap.enter(|h| h.root(h.list([h.int(1)])));
    // To-space first, then the smaller block the young heap shrinks into, with the
    // forwarding marks already written.
    fail_block_allocation_after(1, Failure::Abort);
    let _ = heap.collect(Collect::Major);
}

fn panic_in_major() {
    let (mut heap, _root) = heap_with_live_data(20_000);
    fail_block_allocation_after(0, Failure::Panic);
    // Were the panic to unwind, this would drop a heap whose collection had begun.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| heap.collect(Collect::Major)));
}

fn shared_old_chunk(how: Failure) {
    let heap = SharedHeap::new(SharedOptions::default(), 1).unwrap();
    let mut tlab = heap.tlab();
    let mut process = heap.mutator();
    let _root = process.enter(&mut tlab, |h| {
        h.root(h.list((0..10_000).map(|i| h.tuple(&[h.int(i), h.binary(&[i as u8; 100])]))))
    });
    heap.request_major();
    // The next block is an old-generation chunk the evacuation asks for.
    fail_block_allocation_after(0, how);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| heap.safepoint(&mut tlab)));
}

/// Runs `name` in a child and checks that it aborted with `message` on stderr, cleanly.
fn expect_clean_abort(name: &str, message: &str) {
    let exe = std::env::current_exe().unwrap();
    let valgrind = Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success());
    let mut command = if valgrind {
        let mut c = Command::new("valgrind");
        c.args(["-q", "--error-exitcode=99"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let out = command
        .args(["scenario", "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, name)
        // Blocks from the global allocator, so valgrind sees every block's free.
        .env("HEAPLAB_BLOCKS", "system")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(SIGABRT), "scenario {name}: {:?}\n{stderr}", out.status);
    assert!(stderr.contains(message), "scenario {name}: no `{message}` in\n{stderr}");
    for error in ["Invalid read", "Invalid write", "Invalid free", "uninitialised", "Jump to the invalid"] {
        assert!(!stderr.contains(error), "scenario {name}: valgrind found `{error}`\n{stderr}");
    }
}

const OUT_OF_MEMORY: &str = "heaplab-gc: cannot allocate a heap block of";
const TORN: &str = "heaplab-gc: a panic unwound out of";

#[test]
fn a_failed_to_space_allocation_aborts_cleanly() {
    expect_clean_abort("major-to-space", OUT_OF_MEMORY);
}

#[test]
fn a_failed_old_generation_allocation_aborts_cleanly() {
    expect_clean_abort("minor-old-generation", OUT_OF_MEMORY);
}

#[test]
fn a_failed_allocation_while_shrinking_aborts_cleanly() {
    expect_clean_abort("shrink-after-major", OUT_OF_MEMORY);
}

#[test]
fn a_panic_inside_a_collection_aborts_instead_of_unwinding() {
    expect_clean_abort("panic-in-major", TORN);
}

#[test]
fn a_failed_shared_heap_allocation_mid_collection_aborts_cleanly() {
    expect_clean_abort("shared-old-chunk", OUT_OF_MEMORY);
}

#[test]
fn a_panic_inside_a_shared_collection_aborts_instead_of_leaving_workers_waiting() {
    expect_clean_abort("shared-panic", TORN);
}

/// The scenarios need their failure: without it each collection succeeds (a check that the
/// data above really makes each collection allocate).
#[test]
fn without_an_injected_failure_the_same_collections_succeed() {
    let (mut heap, root) = heap_with_live_data(20_000);
    heap.collect(Collect::Major).unwrap();
    heap.collect(Collect::Minor).unwrap();
    let len = heap.enter(|h| h.get(&root).list_len());
    assert_eq!(len, Some(2500));
    heap.verify().unwrap();
    let snapshot = heap.enter(|h| h.get(&root).iter_list().next().unwrap().to_owned_term());
    assert_eq!(
        snapshot,
        OwnedTerm::tuple(vec![0.into(), OwnedTerm::Binary(vec![0; 100]), OwnedTerm::list(vec![0.into()])])
    );
}
