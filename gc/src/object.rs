//! Walking objects in memory: the one place that knows how big an object is and which of its
//! words are terms. The collector, `copy_term`, relocation and the verifier all walk through
//! here.
//!
//! # Invariants
//! 1. The object at a given address is a cons cell exactly when its first word is not a
//!    header word (a car is always a term; see `layout`), and a boxed object otherwise.

use crate::binary::RefcHeader;
use crate::layout::*;

/// Size in words of the object starting at `obj`.
///
/// # Safety
/// `obj` points at the first word of a well-formed object (not a forwarded one).
#[inline]
pub(crate) unsafe fn object_size(obj: *const u64) -> usize {
    // SAFETY: the caller guarantees a readable first word.
    let first = unsafe { *obj };
    if first & PRIMARY_MASK == TAG_HEADER {
        1 + header_arity(first)
    } else {
        2
    }
}

/// Calls `f` with the address of each term word of the object at `obj`; returns its size.
///
/// # Safety
/// `obj` points at the first word of a well-formed object of `object_size` readable and
/// writable words.
#[inline]
pub(crate) unsafe fn for_each_field(obj: *mut u64, mut f: impl FnMut(*mut u64)) -> usize {
    // SAFETY: the caller guarantees the object is readable and writable; `term_fields` names
    // payload indices below the arity (layout Invariant 2).
    unsafe {
        let first = *obj;
        if first & PRIMARY_MASK == TAG_HEADER {
            for i in term_fields(first) {
                f(obj.add(1 + i));
            }
            1 + header_arity(first)
        } else {
            f(obj);
            f(obj.add(1));
            2
        }
    }
}

/// If the object at `obj` is a refc-binary handle, the off-heap binary it points at.
///
/// # Safety
/// `obj` points at the first word of a well-formed object.
#[inline]
pub(crate) unsafe fn refc_binary_of(obj: *const u64) -> Option<*const RefcHeader> {
    // SAFETY: the caller guarantees a readable object; a handle has two payload words.
    unsafe {
        let first = *obj;
        (first & PRIMARY_MASK == TAG_HEADER && header_subtag(first) == SUB_REFC_BIN)
            .then(|| handle_binary(obj))
    }
}

/// The off-heap binary of the refc-binary handle at `handle` (its header intact or
/// forwarded: only the payload is read).
///
/// # Safety
/// `handle` points at a refc-binary handle (`1 + REFC_BIN_PAYLOAD` readable words).
#[inline]
pub(crate) unsafe fn handle_binary(handle: *const u64) -> *const RefcHeader {
    // SAFETY: the pointer word is the handle's second payload word (caller); it was written
    // with its provenance exposed (`Mu::refc_handle`).
    std::ptr::with_exposed_provenance(unsafe { *handle.add(2) } as usize)
}
