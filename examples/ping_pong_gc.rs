//! Two processes pass a list back and forth, each adding an element, and every collection
//! of their private heaps is printed as it happens.
//!
//! ```sh
//! cargo run --release --example ping_pong_gc            # 200 round trips
//! cargo run --release --example ping_pong_gc -- 2000    # more
//! ```
//!
//! A send copies the list into the receiver's heap (private heaps share nothing), so each
//! process allocates a new list per message and drops the old one: its young generation
//! fills and is collected, one process at a time, while the other goes on running.

use std::sync::Arc;

use heaplab_runtime::heaplab_gc::{GcEvent, GcEventSink};
use heaplab_runtime::Runtime;

/// Prints every collection.
struct Printer;

impl GcEventSink for Printer {
    fn record(&self, event: &GcEvent) {
        let pid = event.pid.map_or_else(|| "-".to_owned(), |pid| heaplab::trace::pid_name(pid.number()));
        println!(
            "gc {:<5} {pid:<10} scheduler {:?}: {:>5} -> {:>5} words ({} copied, {} promoted) in {:?}",
            event.kind.as_str(),
            event.scheduler,
            event.words_before,
            event.words_after,
            event.words_copied,
            event.words_promoted,
            event.duration
        );
    }
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(200);
    let runtime = Runtime::builder()
        .schedulers(2)
        .gc_sink(Arc::new(Printer))
        .build()
        .expect("a runtime of 2 schedulers");
    let length = runtime
        .block_on(move |mut cx| async move {
            let me = cx.self_pid();
            // The partner answers {From, List} with [N | List], N the list's length.
            let partner = cx
                .spawn(|mut cx| async move {
                    loop {
                        let (from, list) = cx
                            .receive(|h, message| match message.as_tuple()? {
                                [from, list] => Some((from.as_pid()?, h.root(*list))),
                                _ => None,
                            })
                            .await;
                        cx.send(from, |h| {
                            let list = h.get(&list);
                            let length = list.list_len().unwrap_or(0) as i64;
                            h.cons(h.int(length), list)
                        });
                    }
                })
                .expect("the partner spawns");
            let mut list = cx.with(|h| {
                let list = h.list((0..100).map(|i| h.int(i)));
                h.root(list)
            });
            for _ in 0..rounds {
                cx.send(partner, |h| h.tuple(&[h.pid(me), h.get(&list)]));
                list = cx.receive(|h, message| message.list_len().map(|_| h.root(message))).await;
            }
            cx.with(|h| h.get(&list).list_len().unwrap_or(0))
        })
        .expect("the root process ends normally");
    println!("after {rounds} round trips the list holds {length} elements");
}
