// Nor can a leaked, `'static` vector.
use heaplab_gc::{Heap, Term};

fn main() {
    let stash: &'static mut Vec<Term<'static>> = Box::leak(Box::new(Vec::new()));
    let mut heap = Heap::default();
    heap.enter(|h| stash.push(h.float(1.5)));
}
