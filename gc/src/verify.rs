//! The heap verifier: an independent check of the heap invariants, run by tests (and by the
//! collector in debug builds or with the `verify` feature) before and after every collection.
//!
//! It walks every occupied area object by object, so it finds:
//! 1. malformed headers (unknown kind, arity that does not match the kind, sub-binary ranges
//!    outside their original, an area that does not end on an object boundary);
//! 2. pointers that do not land on the start of an object of this heap, or that land on a
//!    list cell through a boxed pointer (or the reverse);
//! 3. old-generation objects pointing outside the old generation (heap Invariant 1);
//! 4. refc-binary handles missing from, or listed twice in, the MSO lists, MSO entries that
//!    are not handles, and handles whose binary has no reference left (heap Invariant 3);
//! 5. forwarding marks or markers left behind by a collection (a boxed pointer or a tag-`00`
//!    address where an object should start shows up as a malformed object);
//! 6. for the hybrid heap: a message-area object pointing outside the area (in particular
//!    into a private heap); a private heap's pointer that lands neither on its own objects
//!    nor on its area's; and a word of a private heap's collected part (young block below the
//!    high-water mark, old generation) pointing into the area without being in the heap's
//!    remembered set, or a remembered word that is not such a word.

use std::collections::HashMap;
use std::fmt;

use crate::area::AreaKind;
use crate::binary;
use crate::heap::Heap;
use crate::layout::*;

/// What the verifier found wrong, with the address involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// What is wrong.
    pub problem: String,
    /// The address of the offending object or word.
    pub address: usize,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {:#x}", self.problem, self.address)
    }
}

impl std::error::Error for VerifyError {}

fn fail<T>(problem: impl Into<String>, address: usize) -> Result<T, VerifyError> {
    Err(VerifyError { problem: problem.into(), address })
}

/// Object starts found by the walk: address -> (is a cons cell, area kind).
pub(crate) type Objects = HashMap<usize, (bool, AreaKind)>;

impl Heap {
    /// Checks every invariant of the heap; see the `verify` module. A heap of a message
    /// area is checked against the area (verified too, under its lock).
    pub fn verify(&self) -> Result<(), VerifyError> {
        match &self.area {
            None => self.verify_with_area(None),
            Some(link) => {
                let state = link.area.inner.lock();
                let objects = link.area.inner.verify_locked(&state)?;
                self.verify_with_area(Some(&objects))
            }
        }
    }

    /// [`Heap::verify`] with the objects of the heap's message area, if it has one.
    pub(crate) fn verify_with_area(&self, area: Option<&Objects>) -> Result<(), VerifyError> {
        let areas: Vec<_> = self.areas().collect();
        let roots = self.roots.live_slots().chain(self.messages.iter().copied());
        let objects = verify_space(&areas, roots, &self.mso_young, &self.mso_old, area)?;
        match (&self.area, area) {
            (Some(link), Some(area)) => self.verify_remembered(link, &objects, area),
            _ => Ok(()),
        }
    }

    /// Heap Invariant 6: the remembered set lists exactly the collected words that point
    /// into the area (old words of dead objects included, see `AreaLink`).
    fn verify_remembered(
        &self,
        link: &crate::hybrid::AreaLink,
        own: &Objects,
        area: &Objects,
    ) -> Result<(), VerifyError> {
        let young = self.young.as_ref().map(|b| (b.start() as usize, self.high_water));
        let old = self.old.as_ref().map(|b| (b.start() as usize, self.old_top));
        for (part, list, what) in [(young, &link.young, "young"), (old, &link.old, "old")] {
            let listed: std::collections::HashSet<usize> = list.iter().copied().collect();
            if listed.len() != list.len() {
                return fail(format!("a word listed twice in the {what} remembered set"), 0);
            }
            let (start, words) = part.unwrap_or((0, 0));
            for &slot in list {
                if slot < start || slot >= start + words * 8 || slot % 8 != 0 {
                    return fail(format!("{what} remembered word outside its part of the heap"), slot);
                }
                // SAFETY: the slot is a word of an occupied part of the heap (checked).
                let word = unsafe { word(slot, 0) };
                if !is_pointer(word) || !area.contains_key(&pointer_address(word)) {
                    return fail(format!("{what} remembered word does not point into the area"), slot);
                }
            }
            let mut at = 0;
            while at < words {
                let obj = address_ptr(start + at * 8);
                let mut result = Ok(());
                // SAFETY: the part is a gap-free run of objects (checked by `verify_space`).
                at += unsafe {
                    crate::object::for_each_field(obj, |field| {
                        let w = *field;
                        let target = pointer_address(w);
                        if result.is_ok()
                            && is_pointer(w)
                            && !own.contains_key(&target)
                            && !listed.contains(&exposed_address(field))
                        {
                            result = fail(
                                format!("{what} word pointing into the area missing from the remembered set"),
                                field as usize,
                            );
                        }
                    })
                };
                result?;
            }
        }
        Ok(())
    }
}

/// Checks a message area (area Invariants 1, 4, 5): its objects point only at each other,
/// its old objects not into its nursery, its handles are listed once; during an incremental
/// cycle, the cycle's invariants too. Returns its objects.
/// `in_flight` are the words of its messages in flight.
pub(crate) fn verify_area(
    state: &crate::hybrid::AreaState,
    in_flight: impl Iterator<Item = u64>,
) -> Result<Objects, VerifyError> {
    let areas: Vec<_> = state.areas().collect();
    let Some(cycle) = &state.cycle else {
        return verify_space(&areas, in_flight, &state.mso_young, &state.mso_old, None);
    };
    let (young, old) = cycle.mso_lists(state);
    let in_flight: Vec<u64> = in_flight.collect();
    let objects = verify_space(&areas, in_flight.iter().copied(), &young, &old, None)?;
    cycle.verify(state, &objects, &in_flight)?;
    Ok(objects)
}

/// Checks a space made of `areas` (kind, start, used words), reachable from `roots`, whose
/// refc-binary handles are listed in `mso_young` (handles outside old areas) and `mso_old`.
/// Pointers may also land on the objects of `external` (a private heap's message area).
/// Shared by the per-process heap, the shared heap and the message area. Returns the
/// objects of the space.
pub(crate) fn verify_space(
    areas: &[(AreaKind, *const u64, usize)],
    roots: impl Iterator<Item = u64>,
    mso_young: &[usize],
    mso_old: &[usize],
    external: Option<&Objects>,
) -> Result<Objects, VerifyError> {
    let mut objects: Objects = HashMap::new();
    let mut handles = Vec::new();
    // Pass 1: walk each area, check headers, record object starts.
    for &(kind, base, used) in areas {
        let mut at = 0;
        while at < used {
            // SAFETY: `at < used`: inside the area's occupied words, which are readable.
            let (obj, first) = unsafe { (base.add(at), *base.add(at)) };
            let addr = obj as usize;
            let size = if first & PRIMARY_MASK == TAG_HEADER {
                if !is_header(first) {
                    return fail("a non-value marker where an object should start", addr);
                }
                let arity = header_arity(first);
                if at + 1 + arity > used {
                    return fail("object runs past the end of its area", addr);
                }
                // SAFETY: the payload is inside the area (checked just above).
                unsafe { check_header(obj, first)? };
                if header_subtag(first) == SUB_REFC_BIN {
                    handles.push((addr, kind));
                }
                // A filler covers unused words; nothing may point at it.
                if header_subtag(first) != SUB_FILLER {
                    objects.insert(addr, (false, kind));
                }
                1 + arity
            } else {
                if at + 2 > used {
                    return fail("cons cell runs past the end of its area", addr);
                }
                objects.insert(addr, (true, kind));
                2
            };
            at += size;
        }
    }
    // Pass 2: every term field of every object, and every root.
    for &(kind, base, used) in areas {
        let mut at = 0;
        while at < used {
            let obj = base.wrapping_add(at) as *mut u64;
            let mut result = Ok(());
            // SAFETY: pass 1 showed the area is a gap-free sequence of well-formed objects,
            // so `obj` starts one; the walk only reads its fields.
            let size = unsafe {
                crate::object::for_each_field(obj, |field| {
                    if result.is_ok() {
                        result = check_pointer(&objects, external, *field, field as usize, Some(kind));
                    }
                })
            };
            result?;
            at += size;
        }
    }
    for word in roots {
        check_pointer(&objects, external, word, 0, None)?;
    }
    // Sub-binary originals must be binaries.
    for (&addr, &(is_cons, _)) in &objects {
        if is_cons {
            continue;
        }
        // SAFETY: `addr` is an object start found in pass 1.
        let first = unsafe { word(addr, 0) };
        if header_subtag(first) == SUB_SUB_BIN {
            // SAFETY: pass 1 checked a sub-binary's arity, so its payload is readable.
            let original = unsafe { word(addr, 1 + SUB_BIN_ORIGINAL) };
            let target = pointer_address(original);
            let ok = original & PRIMARY_MASK == TAG_BOXED
                && (objects.get(&target).or_else(|| external.and_then(|e| e.get(&target))))
                    .is_some_and(|&(c, _)| !c)
                // SAFETY: `target` is a boxed object start found in pass 1 (checked).
                && matches!(header_subtag(unsafe { word(target, 0) }), SUB_HEAP_BIN | SUB_REFC_BIN);
            if !ok {
                return fail("sub-binary whose original is not a binary", addr);
            }
            // SAFETY: `target` is a binary object (checked); its first payload word is
            // its byte length.
            let orig_len = unsafe { word(target, 1) } as usize;
            // SAFETY: a sub-binary's first two payload words are its length and offset.
            let (len, offset) = unsafe { (word(addr, 1), word(addr, 2)) };
            if offset as usize + len as usize > orig_len {
                return fail("sub-binary range outside its original", addr);
            }
        }
    }
    // Handles and MSO lists (heap Invariant 3).
    let mut listed: HashMap<usize, bool> = HashMap::new();
    for (&addr, old) in mso_young.iter().map(|a| (a, false)).chain(mso_old.iter().map(|a| (a, true))) {
        if listed.insert(addr, old).is_some() {
            return fail("refc-binary handle listed twice in the MSO lists", addr);
        }
    }
    if listed.len() != handles.len() {
        return fail(
            format!("MSO lists hold {} entries for {} handles on the heap", listed.len(), handles.len()),
            0,
        );
    }
    for (addr, kind) in handles {
        match listed.get(&addr) {
            None => return fail("refc-binary handle missing from the MSO lists", addr),
            Some(&old) if old != (kind == AreaKind::Old) => {
                return fail("refc-binary handle in the wrong MSO list", addr);
            }
            _ => {}
        }
        // SAFETY: `addr` is a handle found in pass 1: payload word 1 is its length and
        // word 2 its binary, which stays allocated while a listed handle refers to it
        // (heap Invariant 3) — a freed one is what this check reports.
        let (len, bin) = unsafe { (word(addr, 1) as usize, crate::object::handle_binary(address_ptr(addr))) };
        // SAFETY: as above.
        if unsafe { binary::refcount(bin) } == 0 {
            return fail("refc-binary handle to a freed binary", addr);
        }
        // SAFETY: as above.
        if unsafe { binary::len(bin) } != len {
            return fail("refc-binary handle length differs from its binary", addr);
        }
    }
    Ok(objects)
}

/// Word `i` of the object at `addr`.
///
/// # Safety
/// `addr + 8 * i` lies in an occupied area of the heap being verified.
unsafe fn word(addr: usize, i: usize) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { *address_ptr(addr).add(i) }
}

/// Checks the kind and arity of a header.
///
/// # Safety
/// `obj` is followed by `header_arity(first)` readable payload words.
unsafe fn check_header(obj: *const u64, first: u64) -> Result<(), VerifyError> {
    let addr = obj as usize;
    let arity = header_arity(first);
    let ok = match header_subtag(first) {
        SUB_TUPLE => true,
        SUB_FLOAT | SUB_BIG => arity == 1,
        SUB_HEAP_BIN => {
            arity >= 1 && {
                // SAFETY: arity >= 1 (checked just before), so the length word is readable.
                let len = unsafe { *obj.add(1) } as usize;
                len <= HEAP_BINARY_LIMIT && arity == heap_binary_payload(len)
            }
        }
        SUB_REFC_BIN => arity == REFC_BIN_PAYLOAD,
        SUB_SUB_BIN => arity == SUB_BIN_PAYLOAD,
        SUB_FILLER => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        fail(format!("malformed header {first:#x}"), addr)
    }
}

/// Checks one term word found at `at` in an area of kind `from` (None for a root).
fn check_pointer(
    objects: &Objects,
    external: Option<&Objects>,
    word: u64,
    at: usize,
    from: Option<AreaKind>,
) -> Result<(), VerifyError> {
    let tag = word & PRIMARY_MASK;
    match tag {
        TAG_IMMEDIATE => {
            if word & IMMEDIATE_MASK == TAG_ATOM
                && crate::atom::Atom::from_index((word >> IMMEDIATE_SHIFT) as u32).is_none()
            {
                return fail("atom index outside the atom table", at);
            }
            if word & IMMEDIATE_MASK == TAG_NIL && word >> IMMEDIATE_SHIFT > MAX_REF {
                return fail("malformed reference", at);
            }
            Ok(())
        }
        TAG_HEADER => fail("header word where a term belongs", at),
        _ => {
            let target = pointer_address(word);
            let Some(&(is_cons, kind)) = objects.get(&target) else {
                return match external.and_then(|e| e.get(&target)) {
                    Some(&(is_cons, _)) if is_cons == (tag == TAG_LIST) => Ok(()),
                    Some(_) => fail(format!("pointer {word:#x} with the wrong tag for its area object"), at),
                    None => fail(format!("pointer {word:#x} to no object of this heap"), at),
                };
            };
            if is_cons != (tag == TAG_LIST) {
                return fail(format!("pointer {word:#x} with the wrong tag for its object"), at);
            }
            if from == Some(AreaKind::Old) && kind != AreaKind::Old {
                return fail("old-generation object points into the young generation", at);
            }
            Ok(())
        }
    }
}
