//! The runtime and supervision suite (`suite/`) under one heap shared by every process,
//! collected stop-the-world. The heap is sized far below its defaults so that the suite's
//! small processes still trigger many minor and major collections, each checked by the heap
//! verifier (on in debug builds): the suite then also checks that no term a live process
//! reaches is lost across collections.

mod common;
mod suite;
mod sup_support;

use heaplab_runtime::heaplab_gc::shared::SharedOptions;
use heaplab_runtime::HeapKind;

/// The heap strategy every runtime of this test crate uses.
fn heap_kind() -> HeapKind {
    HeapKind::Shared(SharedOptions {
        nursery_words_per_worker: 8 * 1024,
        tlab_words: 256,
        min_old_words: 32 * 1024,
        ..SharedOptions::default()
    })
}
