//! The runtime and supervision suite (`suite/`) under one private heap per process.

mod common;
mod suite;
mod sup_support;

use heaplab_runtime::HeapKind;

/// The heap strategy every runtime of this test crate uses.
fn heap_kind() -> HeapKind {
    HeapKind::PerProcess
}
