// A term is `!Send`: it cannot reach another thread, where the heap it points into could be
// collected or dropped under it.
use heaplab_gc::Heap;

fn main() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        let t = h.tuple(&[h.int(1)]);
        std::thread::scope(|s| {
            s.spawn(move || println!("{t}"));
        });
    });
}
