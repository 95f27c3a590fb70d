//! The runtime and supervision suite, run once per heap strategy: each test crate that
//! includes this module (`per_process.rs`, `shared.rs`, `hybrid.rs`) defines `crate::heap_kind()`, and
//! every runtime here is built by [`crate::common::builder`] under it, so the same process
//! code must behave the same on either heap.

mod rt_cx_thread;
mod rt_mailbox;
mod rt_registry;
mod rt_sched;
mod rt_spawn;
mod rt_timer;
mod sig_conformance;
mod sig_smoke;
mod sup_auto_shutdown;
mod sup_children;
mod sup_gen_server;
mod sup_init;
mod sup_shutdown;
mod sup_strategy;

/// The suite really runs under the crate's strategy: the runtime's configuration names it,
/// and a process's heap statistics are those of that strategy (a shared heap reports the
/// nursery of every scheduler, a private heap only its own young generation).
#[test]
fn the_runtime_uses_the_crate_heap_kind() {
    let rt = crate::common::runtime(2);
    assert_eq!(rt.config().heap_kind, crate::heap_kind());
    let young = rt.block_on(|cx| async move { cx.heap_stats().young_capacity }).unwrap();
    match crate::heap_kind() {
        heaplab_runtime::HeapKind::Shared(opts) => assert_eq!(young, 2 * opts.nursery_words_per_worker),
        heaplab_runtime::HeapKind::PerProcess | heaplab_runtime::HeapKind::Hybrid(_) => {
            assert!(young < 8 * 1024, "{young} words")
        }
    }
}
