// The brand cannot leave the closure that created it, not even in a `Vec` declared outside.
use heaplab_gc::{Heap, Term};

fn main() {
    let mut heap = Heap::default();
    let mut kept: Vec<Term<'_>> = Vec::new();
    heap.enter(|h| kept.push(h.tuple(&[h.int(1)])));
    println!("{}", kept.len());
}
