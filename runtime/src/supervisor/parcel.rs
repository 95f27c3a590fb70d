//! Parcels: Rust values that travel with a message by reference.
//!
//! Messages are terms, but a child specification holds a start function, which no term can
//! carry (on the BEAM a start function is named by module and function, which a term can).
//! `start_child` therefore puts the spec into this table under a fresh reference, sends the
//! reference in its request, and the supervisor takes the spec out.
//!
//! # Invariants
//! 1. A parcel is taken at most once: by the receiver, or, if the receiver never took it
//!    (it was dead, or did not understand the request), by the sender after the call
//!    returned; so no parcel outlives the request that carried it.
//! 2. The table holds parcels of requests in flight only; its allocation is the one
//!    long-lived cost (a hash map kept at the size of the most parcels ever in flight).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use heaplab_gc::Ref;

type Table = Mutex<HashMap<Ref, Box<dyn Any + Send>>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(Table::default)
}

/// Stores `value`; the reference names it in a message.
pub(crate) fn put<T: Send + 'static>(value: T) -> Ref {
    let reference = Ref::new();
    table().lock().unwrap_or_else(|e| e.into_inner()).insert(reference, Box::new(value));
    reference
}

/// Takes the value stored under `reference`, if it is there and a `T` (Invariant 1).
pub(crate) fn take<T: 'static>(reference: Ref) -> Option<T> {
    let parcel = table().lock().unwrap_or_else(|e| e.into_inner()).remove(&reference)?;
    parcel.downcast::<T>().ok().map(|b| *b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parcel_is_taken_once() {
        let r = put(String::from("spec"));
        assert_eq!(take::<u32>(r), None, "the wrong type takes it out but does not return it");
        let r = put(String::from("spec"));
        assert_eq!(take::<String>(r).as_deref(), Some("spec"));
        assert_eq!(take::<String>(r), None);
    }
}
