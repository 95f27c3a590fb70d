// The allocation handle cannot outlive `enter` either.
use heaplab_gc::Heap;

fn main() {
    let mut heap = Heap::default();
    let mu = heap.enter(|h| h);
    drop(heap);
    mu.int(i64::MAX);
}
