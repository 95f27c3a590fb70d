//! Under dhat's counting allocator: copying a term that holds a 1 MB binary copies the
//! binary's 3-word handle, never its bytes.
//!
//! dhat's profiler is per process, so this binary holds one test only.

use heaplab_gc::{live_binary_bytes, Collect, Heap};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const MB: usize = 1 << 20;

#[test]
fn copying_a_term_with_a_large_binary_does_not_copy_the_bytes() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let mut src = Heap::default();
    let mut dst = Heap::default();
    let payload: Vec<u8> = (0..MB).map(|i| i as u8).collect();
    let root = src.enter(|h| {
        let bin = h.binary(&payload);
        let sub = h.sub_binary(bin, 10, MB - 20).unwrap();
        h.root(h.tuple(&[h.atom_named("blob"), bin, sub, h.list((0..10).map(|i| h.int(i)))]))
    });
    drop(payload);
    src.collect(Collect::Minor).unwrap();
    src.verify().unwrap();
    // Warm up the destination heap's first block so only the copy itself is measured.
    dst.enter(|h| {
        h.float(0.0);
    });
    let binary_bytes = live_binary_bytes();

    let before = dhat::HeapStats::get();
    let (copy, fragment, shared) = src.enter(|s| {
        dst.enter(|d| {
            let t = s.get(&root);
            let copy = d.root(d.copy(t));
            (copy, s.to_fragment(t), s.to_fragment_shared(t))
        })
    });
    let after = dhat::HeapStats::get();

    let allocated = after.total_bytes - before.total_bytes;
    assert!(allocated < (MB / 16) as u64, "copying allocated {allocated} bytes");
    assert!(after.max_bytes < before.max_bytes.max(before.curr_bytes) + MB / 16, "a peak of a binary's size");
    assert!(after.curr_bytes - before.curr_bytes < MB / 16);
    assert_eq!(live_binary_bytes(), binary_bytes, "no new off-heap binary");
    // Tuple (5) + handle (3) + sub-binary (4) + its original's handle (3) + list (20).
    assert_eq!(fragment.words(), 5 + 3 + 4 + 3 + 20);
    assert_eq!(shared.words(), 5 + 3 + 4 + 20);
    dst.verify().unwrap();
    dst.enter(|d| {
        let t = d.get(&copy);
        let items = t.as_tuple().unwrap();
        assert_eq!(items[1].as_binary().map(<[u8]>::len), Some(MB));
        assert_eq!(items[2].as_binary().unwrap()[0], 10);
    });
    drop((copy, fragment, shared, root, src, dst));
}
