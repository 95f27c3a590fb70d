// Smuggling a term out of `enter` so it could be read after a collection.
use heaplab_gc::{Collect, Heap};

fn main() {
    let mut heap = Heap::default();
    let list = heap.enter(|h| h.list([h.int(1), h.int(2)]));
    heap.collect(Collect::Minor).unwrap();
    println!("{list}");
}
