// A collection needs `&mut Heap`, which `enter` already holds: no term can be alive across it.
use heaplab_gc::{Collect, Heap};

fn main() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        let list = h.list([h.int(1), h.int(2)]);
        heap.collect(Collect::Minor).unwrap();
        println!("{list}");
    });
}
