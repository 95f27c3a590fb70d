//! A process's `Cx` off its scheduler threads. `Cx` is `Send` (a process moves between
//! schedulers), so a body may hand it to any thread and take it back; every method stays
//! sound there under every heap strategy: on the shared heap, a thread without the heap's
//! allocation buffer registers one for each operation, so no collection runs while it
//! touches the heap, and collections keep running between its operations.

use heaplab_runtime::heaplab_gc::OwnedTerm;
use heaplab_runtime::HeapKind;

use crate::common::{guarded, runtime};

#[test]
fn a_cx_handed_to_a_plain_thread_delivers_reads_and_sends_while_collections_run() {
    const SENDERS: i64 = 2;
    const PER: i64 = 400;
    let got = guarded(|| {
        let rt = runtime(2);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            let mut senders = Vec::new();
            for s in 0..SENDERS {
                senders.push(
                    cx.spawn(move |mut cx| async move {
                        for i in 0..PER {
                            // The second half waits until the thread has taken a first batch:
                            // the senders are still sending while the thread works, whatever
                            // the machine's timing.
                            if i == PER / 2 {
                                cx.receive(|_, m| (m.as_atom()?.name() == "go").then_some(())).await;
                            }
                            // Garbage, so that collections keep running meanwhile (under the
                            // shared heap of this suite, stop-the-world ones every few sends).
                            cx.with(|h| {
                                for g in 0..100 {
                                    h.tuple(&[h.int(g), h.int(i)]);
                                }
                            });
                            cx.send(me, |h| h.list([h.int(s), h.int(i), h.tuple(&[h.int(i * 3)])]));
                            if i % 10 == 0 {
                                cx.yield_now().await;
                            }
                        }
                    })
                    .unwrap(),
                );
            }
            let mut got = Vec::new();
            let mut rounds = 0;
            while got.len() < (SENDERS * PER) as usize {
                // On a plain thread: move arrived messages into the heap, take and read
                // them, and send one to this process.
                let (back, batch) = std::thread::spawn(move || {
                    cx.deliver_now();
                    let batch: Vec<OwnedTerm> = cx.with(|h| {
                        (0..h.message_count()).map(|_| h.take_message(0).unwrap().to_owned_term()).collect()
                    });
                    cx.send(me, |h| h.tuple(&[h.atom_named("from_thread"), h.list([h.int(7)])]));
                    (cx, batch)
                })
                .join()
                .unwrap();
                cx = back;
                got.extend(batch);
                rounds += 1;
                if rounds == 1 {
                    for &sender in &senders {
                        cx.send(sender, |h| h.atom_named("go"));
                    }
                }
                // Back on the scheduler, the thread's message arrives like any other.
                let seven = cx
                    .receive(|_, m| match m.as_tuple()? {
                        [tag, list] if tag.as_atom()?.name() == "from_thread" => {
                            list.iter_list().next()?.as_int()
                        }
                        _ => None,
                    })
                    .await;
                assert_eq!(seven, 7);
            }
            assert!(rounds > 1, "the senders were still sending while the thread worked");
            if let HeapKind::Shared(_) = crate::heap_kind() {
                let stats = cx.heap_stats();
                assert!(stats.minor_collections + stats.major_collections >= 5, "{stats:?}");
            }
            got
        })
        .unwrap()
    });
    for s in 0..SENDERS {
        let from_s: Vec<&OwnedTerm> =
            got.iter().filter(|m| matches!(m, OwnedTerm::List(items, _) if items[0] == s.into())).collect();
        let expected: Vec<OwnedTerm> = (0..PER)
            .map(|i| OwnedTerm::list(vec![s.into(), i.into(), OwnedTerm::tuple(vec![(i * 3).into()])]))
            .collect();
        assert_eq!(from_s, expected.iter().collect::<Vec<_>>(), "sender {s}");
    }
}
