//! The runtime and supervision suite (`suite/`) under private heaps and a shared message
//! area. The area's nursery is sized far below its default so that the suite's small
//! processes still trigger many area collections, each checked by the verifier (on in debug
//! builds) against every process's heap: the suite then also checks that no message a live
//! process holds is lost or left dangling across them.

mod common;
mod suite;
mod sup_support;

use heaplab_runtime::heaplab_gc::hybrid::AreaOptions;
use heaplab_runtime::HeapKind;

/// The heap strategy every runtime of this test crate uses.
fn heap_kind() -> HeapKind {
    HeapKind::Hybrid(AreaOptions {
        nursery_words: 2 * 1024,
        min_old_words: 8 * 1024,
        ..AreaOptions::default()
    })
}
