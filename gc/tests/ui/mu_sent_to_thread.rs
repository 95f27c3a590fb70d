// The allocation handle is `!Send`: another thread cannot allocate on this heap.
use heaplab_gc::Heap;

fn main() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        std::thread::scope(|s| {
            s.spawn(move || h.int(i64::MAX).as_int());
        });
    });
}
