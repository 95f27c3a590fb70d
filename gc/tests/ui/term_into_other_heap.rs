// With two heaps open at once, a term of one cannot be linked into the other: each `enter`
// creates its own brand, and the brands never unify. (`Mu::copy` is the way across.)
use heaplab_gc::Heap;

fn main() {
    let mut a = Heap::default();
    let mut b = Heap::default();
    a.enter(|ha| {
        let from_a = ha.tuple(&[ha.int(1)]);
        b.enter(|hb| {
            let _in_b = hb.cons(from_a, hb.nil());
        });
    });
}
