//! Reference-counted off-heap binaries (the BEAM's "refc binaries").
//!
//! Binaries larger than [`HEAP_BINARY_LIMIT`](crate::HEAP_BINARY_LIMIT) bytes live outside
//! every process heap in one allocation: a [`RefcHeader`] followed by the bytes. Each heap
//! that holds the binary has a handle object (a "ProcBin") on its heap that owns one
//! reference and is listed in that heap's MSO list; copying a term between heaps copies the
//! handle and takes one more reference, never the bytes. [`Binary`] is the safe owned handle
//! used from outside any heap.
//!
//! # Invariants
//! 1. `refc` counts the ProcBins on heaps plus the [`Binary`] values that point at the
//!    allocation; the allocation is freed exactly when it drops to zero.
//! 2. The bytes are never written after creation.

use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Header of an off-heap binary; the bytes follow it.
#[repr(C)]
pub(crate) struct RefcHeader {
    refc: AtomicUsize,
    len: usize,
}

static LIVE_BINARIES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BINARY_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Number of off-heap binaries currently allocated, in the whole program.
pub fn live_binaries() -> usize {
    LIVE_BINARIES.load(Ordering::Relaxed)
}

/// Bytes held by off-heap binaries currently allocated, in the whole program.
pub fn live_binary_bytes() -> usize {
    LIVE_BINARY_BYTES.load(Ordering::Relaxed)
}

fn layout_for(len: usize) -> Layout {
    Layout::from_size_align(std::mem::size_of::<RefcHeader>() + len, 8).expect("binary size overflows")
}

/// Allocates an off-heap binary holding `bytes` with a reference count of one.
pub(crate) fn allocate(bytes: &[u8]) -> NonNull<RefcHeader> {
    let layout = layout_for(bytes.len());
    // SAFETY: the layout has non-zero size (the header alone is 16 bytes).
    let raw = unsafe { alloc::alloc(layout) } as *mut RefcHeader;
    let Some(ptr) = NonNull::new(raw) else { alloc::handle_alloc_error(layout) };
    // SAFETY: `ptr` is a fresh allocation big enough for the header and `bytes.len()` bytes.
    unsafe {
        ptr.as_ptr().write(RefcHeader { refc: AtomicUsize::new(1), len: bytes.len() });
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), bytes_ptr(ptr.as_ptr()) as *mut u8, bytes.len());
    }
    LIVE_BINARIES.fetch_add(1, Ordering::Relaxed);
    LIVE_BINARY_BYTES.fetch_add(bytes.len(), Ordering::Relaxed);
    ptr
}

/// Address of the first byte of a binary.
#[inline]
pub(crate) fn bytes_ptr(bin: *const RefcHeader) -> *const u8 {
    bin.wrapping_add(1) as *const u8
}

/// Takes one more reference.
///
/// # Safety
/// `bin` is a live off-heap binary (its count is at least one, held by the caller).
#[inline]
pub(crate) unsafe fn increment(bin: *const RefcHeader) {
    // SAFETY: the caller holds a reference, so the allocation is live.
    unsafe { (*bin).refc.fetch_add(1, Ordering::Relaxed) };
}

/// Drops one reference; frees the binary when it was the last. Returns whether it freed.
///
/// # Safety
/// The caller owns one reference to the live binary `bin` and gives it up.
#[inline]
pub(crate) unsafe fn decrement(bin: *const RefcHeader) -> bool {
    // SAFETY: the caller owns a reference, so the allocation is live until this decrement.
    // Release/acquire pairing as in `Arc`: every use before the last decrement happens
    // before the free.
    unsafe {
        if (*bin).refc.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        std::sync::atomic::fence(Ordering::Acquire);
        let len = (*bin).len;
        alloc::dealloc(bin as *mut u8, layout_for(len));
        LIVE_BINARIES.fetch_sub(1, Ordering::Relaxed);
        LIVE_BINARY_BYTES.fetch_sub(len, Ordering::Relaxed);
        true
    }
}

/// Byte length of a live binary.
///
/// # Safety
/// `bin` is live.
#[inline]
pub(crate) unsafe fn len(bin: *const RefcHeader) -> usize {
    // SAFETY: the caller guarantees the allocation is live.
    unsafe { (*bin).len }
}

/// Current reference count of a live binary.
///
/// # Safety
/// `bin` is live.
#[inline]
pub(crate) unsafe fn refcount(bin: *const RefcHeader) -> usize {
    // SAFETY: the caller guarantees the allocation is live.
    unsafe { (*bin).refc.load(Ordering::Relaxed) }
}

/// Drops the reference owned by each refc-binary handle at the given addresses; returns how
/// many binaries that freed.
pub(crate) fn release_handles(handles: impl Iterator<Item = usize>) -> u64 {
    let mut freed = 0;
    for addr in handles {
        // SAFETY: each address is a live refc-binary handle owning one reference
        // (heap Invariant 3); its second payload word is the binary pointer.
        unsafe {
            let bin = crate::object::handle_binary(crate::layout::address_ptr(addr));
            freed += decrement(bin) as u64;
        }
    }
    freed
}

/// An owned reference to an off-heap binary, usable outside any heap.
///
/// Cloning takes a reference; dropping gives it back. Put it on a heap with
/// [`Mu::refc_binary`](crate::Mu::refc_binary), which shares the bytes.
pub struct Binary {
    ptr: NonNull<RefcHeader>,
}

// SAFETY: the bytes are immutable (Invariant 2) and the count is atomic, as for `Arc<[u8]>`.
unsafe impl Send for Binary {}
// SAFETY: as above; `&Binary` only reads immutable bytes.
unsafe impl Sync for Binary {}

impl Binary {
    /// Copies `bytes` into a new off-heap binary (at any size, even below the heap limit).
    pub fn from_bytes(bytes: &[u8]) -> Binary {
        Binary { ptr: allocate(bytes) }
    }

    /// Takes a reference to an existing binary.
    ///
    /// # Safety
    /// `bin` is live and the caller holds a reference for the duration of the call.
    pub(crate) unsafe fn from_raw_shared(bin: *const RefcHeader) -> Binary {
        // SAFETY: forwarded from the caller.
        unsafe { increment(bin) };
        Binary { ptr: NonNull::new(bin as *mut RefcHeader).expect("null binary") }
    }

    pub(crate) fn as_raw(&self) -> *const RefcHeader {
        self.ptr.as_ptr()
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `self` holds a reference (Invariant 1), so the allocation is live.
        unsafe { std::slice::from_raw_parts(bytes_ptr(self.ptr.as_ptr()), len(self.ptr.as_ptr())) }
    }

    /// Byte length.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the binary is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The current number of references (handles on heaps plus `Binary` values).
    pub fn refcount(&self) -> usize {
        // SAFETY: `self` holds a reference.
        unsafe { refcount(self.ptr.as_ptr()) }
    }

    /// Whether two handles share one allocation.
    pub fn ptr_eq(a: &Binary, b: &Binary) -> bool {
        a.ptr == b.ptr
    }
}

impl Clone for Binary {
    fn clone(&self) -> Binary {
        // SAFETY: `self` holds a reference, so the binary is live.
        unsafe { Binary::from_raw_shared(self.ptr.as_ptr()) }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        // SAFETY: `self` owns exactly one reference and gives it up here.
        unsafe { decrement(self.ptr.as_ptr()) };
    }
}

impl std::fmt::Debug for Binary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Binary({} bytes, refc {})", self.len(), self.refcount())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refcount_frees_on_last_drop() {
        let before = live_binaries();
        let a = Binary::from_bytes(&[7u8; 100]);
        let b = a.clone();
        assert_eq!(a.refcount(), 2);
        assert!(Binary::ptr_eq(&a, &b));
        assert_eq!(b.as_bytes(), &[7u8; 100][..]);
        drop(a);
        assert_eq!(b.refcount(), 1);
        assert!(live_binaries() > before || live_binaries() >= 1);
        drop(b);
    }
}
