//! Bit layout of a term word and of the header word that starts every boxed object.
//!
//! A term is one 64-bit word. Its two low bits (the *primary tag*) say what it is, as on the
//! BEAM (erl_term.h):
//!
//! | bits `..3210`      | meaning                                                    |
//! |--------------------|------------------------------------------------------------|
//! | `ptr        | 00`  | a header word; found only at the start of a boxed object   |
//! | `ptr        | 01`  | list: pointer to a headerless cons cell (car, cdr)         |
//! | `ptr        | 10`  | boxed: pointer to a header word followed by its payload    |
//! | `value    | 0011`  | pid (60-bit number)                                        |
//! | `index    | 0111`  | atom (index into the global atom table)                    |
//! | `0...     | 1011`  | nil, `[]` (payload zero)                                   |
//! | `number   | 1011`  | reference (payload non-zero: `make_ref()`)                 |
//! | `value    | 1111`  | small integer (60-bit two's complement)                    |
//!
//! A header word is `arity << 6 | subtag << 2 | 00`, where `arity` is the number of payload
//! words that follow the header and `subtag` names the object kind:
//!
//! | subtag | object        | payload                                                     |
//! |--------|---------------|-------------------------------------------------------------|
//! | 0      | tuple         | `arity` terms                                               |
//! | 1      | float         | one `f64`                                                   |
//! | 2      | big integer   | one `i64` outside the small-integer range                   |
//! | 3      | heap binary   | byte length, then the bytes (at most 64)                    |
//! | 4      | refc binary   | byte length, raw pointer to the off-heap binary ("ProcBin") |
//! | 5      | sub-binary    | byte length, byte offset, the original binary term          |
//! | 14     | filler        | `arity` unused words (the unused tail of an allocation buffer)|
//! | 15     | non-value     | never a real object: marks a free root slot ([`NON_VALUE`]) |
//!
//! During a collection a copied boxed object's header is overwritten with a boxed pointer to
//! its new place, and a copied cons cell's car with the copy's address, tag `00` (see
//! `evacuate`). Neither can be confused with a live object: a live header always has primary
//! tag `00`, a live car is never a header word.
//!
//! # Invariants
//! 1. Every pointer stored in a term is 8-byte aligned, so the two tag bits are free.
//! 2. Only payload words that [`term_fields`] names are terms; the collector and the verifier
//!    never interpret other payload words.

/// Mask of the primary tag (two low bits).
pub(crate) const PRIMARY_MASK: u64 = 0b11;
/// Primary tag of a header word.
pub(crate) const TAG_HEADER: u64 = 0b00;
/// Primary tag of a list (cons) pointer.
pub(crate) const TAG_LIST: u64 = 0b01;
/// Primary tag of a boxed pointer.
pub(crate) const TAG_BOXED: u64 = 0b10;
/// Primary tag shared by every immediate.
pub(crate) const TAG_IMMEDIATE: u64 = 0b11;

/// Mask of the immediate tag (four low bits).
pub(crate) const IMMEDIATE_MASK: u64 = 0b1111;
/// Immediate tag of a pid.
pub(crate) const TAG_PID: u64 = 0b0011;
/// Immediate tag of an atom.
pub(crate) const TAG_ATOM: u64 = 0b0111;
/// Immediate tag of nil (exactly this word) and of references (a non-zero payload).
pub(crate) const TAG_NIL: u64 = 0b1011;
/// Largest reference number.
pub const MAX_REF: u64 = (1 << 60) - 1;
/// Immediate tag of a small integer.
pub(crate) const TAG_SMALL: u64 = 0b1111;
/// Bits of payload above an immediate tag.
pub(crate) const IMMEDIATE_SHIFT: u32 = 4;

/// Largest small integer: 60-bit two's complement, as a 64-bit BEAM's `MAX_SMALL`.
pub const MAX_SMALL: i64 = (1 << 59) - 1;
/// Smallest small integer.
pub const MIN_SMALL: i64 = -(1 << 59);
/// Largest pid number that fits an immediate.
pub const MAX_PID: u64 = (1 << 60) - 1;

/// Shift of the object kind inside a header word.
pub(crate) const SUBTAG_SHIFT: u32 = 2;
/// Mask of the object kind after shifting.
pub(crate) const SUBTAG_MASK: u64 = 0b1111;
/// Shift of the arity (payload word count) inside a header word.
pub(crate) const ARITY_SHIFT: u32 = 6;

/// Header subtag: tuple.
pub(crate) const SUB_TUPLE: u64 = 0;
/// Header subtag: float.
pub(crate) const SUB_FLOAT: u64 = 1;
/// Header subtag: 64-bit integer outside the small range.
pub(crate) const SUB_BIG: u64 = 2;
/// Header subtag: heap binary.
pub(crate) const SUB_HEAP_BIN: u64 = 3;
/// Header subtag: handle to a reference-counted off-heap binary.
pub(crate) const SUB_REFC_BIN: u64 = 4;
/// Header subtag: sub-binary (a slice of another binary).
pub(crate) const SUB_SUB_BIN: u64 = 5;
/// Header subtag: a filler covering unused words, so a region with gaps stays walkable.
pub(crate) const SUB_FILLER: u64 = 14;
/// Header subtag reserved for markers that are no object.
pub(crate) const SUB_MOVED: u64 = 15;

/// A word that is no term at all: marks a free root slot.
pub(crate) const NON_VALUE: u64 = header(SUB_MOVED, 1);

/// Binaries of at most this many bytes are stored on the process heap; larger ones off-heap
/// (ERL_ONHEAP_BIN_LIMIT in erl_binary.h).
pub const HEAP_BINARY_LIMIT: usize = 64;

/// Payload words of a refc binary handle: length, pointer.
pub(crate) const REFC_BIN_PAYLOAD: usize = 2;
/// Payload words of a sub-binary: length, offset, original.
pub(crate) const SUB_BIN_PAYLOAD: usize = 3;
/// Index of the original-binary term inside a sub-binary's payload.
pub(crate) const SUB_BIN_ORIGINAL: usize = 2;

const _: () = assert!(NON_VALUE & PRIMARY_MASK == TAG_HEADER);
const _: () = assert!(TAG_SMALL & PRIMARY_MASK == TAG_IMMEDIATE);
const _: () = assert!(TAG_NIL & PRIMARY_MASK == TAG_IMMEDIATE);
const _: () = assert!(((MAX_SMALL << IMMEDIATE_SHIFT) >> IMMEDIATE_SHIFT) == MAX_SMALL);
const _: () = assert!(((MIN_SMALL << IMMEDIATE_SHIFT) >> IMMEDIATE_SHIFT) == MIN_SMALL);

/// Builds a header word.
#[inline]
pub(crate) const fn header(subtag: u64, arity: u64) -> u64 {
    (arity << ARITY_SHIFT) | (subtag << SUBTAG_SHIFT) | TAG_HEADER
}

/// The object kind of a header word.
#[inline]
pub(crate) const fn header_subtag(header: u64) -> u64 {
    (header >> SUBTAG_SHIFT) & SUBTAG_MASK
}

/// The payload word count of a header word.
#[inline]
pub(crate) const fn header_arity(header: u64) -> usize {
    (header >> ARITY_SHIFT) as usize
}

/// Writes a filler over `words` words (at least one) at `at`, so a walk steps over them.
///
/// # Safety
/// `at` points at `words` writable words that hold no live object.
pub(crate) unsafe fn write_filler(at: *mut u64, words: usize) {
    debug_assert!(words >= 1);
    // SAFETY: the caller guarantees the words are ours to overwrite; only the header is
    // written, the payload is never read.
    unsafe { at.write(header(SUB_FILLER, words as u64 - 1)) };
}

/// Whether a word is a header of a real object (not a forwarding pointer, not a marker).
#[inline]
pub(crate) const fn is_header(word: u64) -> bool {
    word & PRIMARY_MASK == TAG_HEADER && header_subtag(word) != SUB_MOVED
}

/// Whether a word is a list or boxed pointer.
#[inline]
pub(crate) const fn is_pointer(word: u64) -> bool {
    matches!(word & PRIMARY_MASK, TAG_LIST | TAG_BOXED)
}

/// The address inside a list or boxed pointer.
#[inline]
pub(crate) const fn pointer_address(word: u64) -> usize {
    (word & !PRIMARY_MASK) as usize
}

/// The object a list or boxed word points at.
///
/// Terms are words, not pointers: every pointer stored in a term (or in an MSO list) had its
/// provenance exposed when the word was made ([`tagged`], [`exposed_address`]), and this
/// takes it back, so that tools checking provenance (Miri) see where each access may go.
#[inline]
pub(crate) fn object_ptr(word: u64) -> *mut u64 {
    address_ptr(pointer_address(word))
}

/// The pointer for an address made by [`exposed_address`] or taken from a term word.
#[inline]
pub(crate) fn address_ptr(address: usize) -> *mut u64 {
    std::ptr::with_exposed_provenance_mut(address)
}

/// The address of `ptr`, exposing its provenance so that [`address_ptr`] can take it back.
#[inline]
pub(crate) fn exposed_address<T>(ptr: *const T) -> usize {
    ptr.expose_provenance()
}

/// A list (`TAG_LIST`) or boxed (`TAG_BOXED`) term word for the object at `obj` (Invariant 1:
/// the address is 8-byte aligned, so the tag bits are free).
#[inline]
pub(crate) fn tagged(obj: *const u64, tag: u64) -> u64 {
    exposed_address(obj) as u64 | tag
}

/// Words a heap binary of `len` bytes occupies after its header (length word + bytes).
#[inline]
pub(crate) const fn heap_binary_payload(len: usize) -> usize {
    1 + len.div_ceil(8)
}

/// The range of payload indices (0-based, after the header) that hold terms.
#[inline]
pub(crate) fn term_fields(header: u64) -> std::ops::Range<usize> {
    match header_subtag(header) {
        SUB_TUPLE => 0..header_arity(header),
        SUB_SUB_BIN => SUB_BIN_ORIGINAL..SUB_BIN_ORIGINAL + 1,
        _ => 0..0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = header(SUB_TUPLE, 12345);
        assert!(is_header(h));
        assert_eq!(header_arity(h), 12345);
        assert_eq!(header_subtag(h), SUB_TUPLE);
        assert!(!is_header(NON_VALUE));
    }

    #[test]
    fn term_fields_by_kind() {
        assert_eq!(term_fields(header(SUB_TUPLE, 3)), 0..3);
        assert_eq!(term_fields(header(SUB_FLOAT, 1)), 0..0);
        assert_eq!(term_fields(header(SUB_SUB_BIN, 3)), 2..3);
        assert_eq!(heap_binary_payload(0), 1);
        assert_eq!(heap_binary_payload(8), 2);
        assert_eq!(heap_binary_payload(9), 3);
    }
}
