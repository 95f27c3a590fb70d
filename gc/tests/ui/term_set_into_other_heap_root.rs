// Nor can it be stored into a root of heap `b` (the root's check is at run time, the
// brand's at compile time).
use heaplab_gc::Heap;

fn main() {
    let mut a = Heap::default();
    let mut b = Heap::default();
    let root_b = b.enter(|hb| hb.root(hb.nil()));
    a.enter(|ha| {
        b.enter(|hb| {
            let from_a = ha.tuple(&[ha.int(1)]);
            hb.set(&root_b, from_a);
        })
    });
}
