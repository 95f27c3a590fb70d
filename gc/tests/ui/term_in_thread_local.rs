// A `'static` place (a thread-local) cannot hold a branded term.
use std::cell::RefCell;

use heaplab_gc::{Heap, Term};

thread_local! {
    static STASH: RefCell<Vec<Term<'static>>> = const { RefCell::new(Vec::new()) };
}

fn main() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        let t = h.list([h.int(1)]);
        STASH.with(|s| s.borrow_mut().push(t));
    });
}
