//! Mailboxes: message order between a pair of processes, selective receive, and the save
//! pointer that keeps a waiting receive from examining a message twice.

use std::sync::{Arc, Mutex};

use crate::common::{atom, guarded, int, runtime};

/// Messages sent from one process to another arrive in the order they were sent.
#[test]
fn ten_thousand_messages_arrive_in_send_order() {
    const N: i64 = 10_000;
    let received = guarded(|| {
        let rt = runtime(2);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            cx.spawn(move |mut cx| async move {
                for i in 0..N {
                    cx.send(me, |h| h.int(i));
                    // Let the receiver run now and then, so it drains while messages arrive.
                    if i % 97 == 0 {
                        cx.yield_now().await;
                    }
                }
            })
            .unwrap();
            let mut got = Vec::with_capacity(N as usize);
            for _ in 0..N {
                got.push(cx.receive(int).await);
            }
            got
        })
        .unwrap()
    });
    assert_eq!(received, (0..N).collect::<Vec<_>>());
}

/// With several senders, each sender's messages keep their order among themselves.
#[test]
fn order_is_kept_per_sender_with_four_senders() {
    const SENDERS: i64 = 4;
    const PER: i64 = 2_500;
    let per_sender = guarded(|| {
        let rt = runtime(2);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            for s in 0..SENDERS {
                cx.spawn(move |mut cx| async move {
                    for i in 0..PER {
                        cx.send(me, |h| h.tuple(&[h.int(s), h.int(i)]));
                        if i % 50 == 0 {
                            cx.yield_now().await;
                        }
                    }
                })
                .unwrap();
            }
            let mut per_sender = vec![Vec::new(); SENDERS as usize];
            for _ in 0..SENDERS * PER {
                let (s, i) = cx
                    .receive(|_, m| match m.as_tuple()? {
                        [s, i] => Some((s.as_int()?, i.as_int()?)),
                        _ => None,
                    })
                    .await;
                per_sender[s as usize].push(i);
            }
            per_sender
        })
        .unwrap()
    });
    for (s, got) in per_sender.iter().enumerate() {
        assert_eq!(*got, (0..PER).collect::<Vec<_>>(), "messages of sender {s}");
    }
}

/// `receive` that matches only `c` takes it and leaves `a`, `b`, `d` queued in order.
#[test]
fn selective_receive_leaves_the_other_messages_in_order() {
    let (first, rest, left) = guarded(|| {
        let rt = runtime(1);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            for name in ["a", "b", "c", "d"] {
                cx.send(me, |h| h.atom_named(name));
            }
            let first = cx.receive(|_, m| (m.as_atom()?.name() == "c").then_some("c")).await;
            let left = cx.mailbox_len();
            let mut rest = Vec::new();
            for _ in 0..3 {
                rest.push(cx.receive(atom).await);
            }
            (first, rest, left)
        })
        .unwrap()
    });
    assert_eq!(first, "c");
    assert_eq!(left, 3, "a, b and d stay in the mailbox");
    assert_eq!(rest, ["a", "b", "d"]);
}

/// A receive that matches nothing waits; messages that arrive later are examined once each
/// (the save pointer), in arrival order, until one matches. The unmatched ones stay queued.
#[test]
fn waiting_receive_examines_each_message_once_and_matches_a_later_one() {
    let (examined, matched, after) = guarded(|| {
        // One scheduler: the order of the two processes' slices is fixed.
        let rt = runtime(1);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            cx.send(me, |h| h.atom_named("x1"));
            cx.send(me, |h| h.atom_named("x2"));
            cx.spawn(move |mut cx| async move {
                cx.send(me, |h| h.atom_named("y"));
                // The receiver runs in between: it examines `y` alone and waits again.
                cx.yield_now().await;
                cx.yield_now().await;
                cx.send(me, |h| h.tuple(&[h.atom_named("go"), h.int(7)]));
            })
            .unwrap();
            let examined = Arc::new(Mutex::new(Vec::new()));
            let log = Arc::clone(&examined);
            let matched = cx
                .receive(move |_, m| {
                    let name = match m.as_tuple() {
                        Some([tag, _]) => tag.as_atom()?.name(),
                        _ => m.as_atom()?.name(),
                    };
                    log.lock().unwrap().push(name);
                    match m.as_tuple()? {
                        [tag, n] if tag.as_atom()?.name() == "go" => n.as_int(),
                        _ => None,
                    }
                })
                .await;
            // A new receive starts from the oldest message again.
            let mut after = Vec::new();
            for _ in 0..3 {
                after.push(cx.receive(atom).await);
            }
            let examined = examined.lock().unwrap().clone();
            (examined, matched, after)
        })
        .unwrap()
    });
    assert_eq!(matched, 7);
    assert_eq!(examined, ["x1", "x2", "y", "go"], "each message examined exactly once");
    assert_eq!(after, ["x1", "x2", "y"]);
}

/// Messages sent from outside the runtime also arrive in order, and mix with messages from
/// processes without reordering either stream.
#[test]
fn messages_from_outside_arrive_in_order() {
    use heaplab_runtime::heaplab_gc::OwnedTerm;
    const N: i64 = 1_000;
    let got = guarded(|| {
        let rt = runtime(2);
        let (tx, rx) = std::sync::mpsc::channel();
        let pid = rt
            .spawn(move |mut cx| async move {
                let mut got = Vec::new();
                for _ in 0..N {
                    got.push(cx.receive(int).await);
                }
                tx.send(got).unwrap();
            })
            .unwrap();
        for i in 0..N {
            rt.send_owned(pid, &OwnedTerm::Int(i));
        }
        rx.recv().unwrap()
    });
    assert_eq!(got, (0..N).collect::<Vec<_>>());
}

/// With `time_sends`, every send from a process is timed and counted on its scheduler,
/// fragments included; without it nothing is.
#[test]
fn timed_sends_are_counted_only_when_asked_for() {
    for on in [false, true] {
        let (timed, send_ns) = guarded(move || {
            let rt = crate::common::builder().schedulers(2).time_sends(on).build().unwrap();
            rt.block_on(|mut cx| async move {
                let me = cx.self_pid();
                let before = cx.runtime_stats();
                for i in 0..100 {
                    cx.send(me, |h| h.int(i));
                }
                cx.send_fragment(me, heaplab_gc::Fragment::build(|h| h.int(100)));
                for i in 0..=100 {
                    assert_eq!(cx.receive(int).await, i);
                }
                let after = cx.runtime_stats();
                (after.timed_sends() - before.timed_sends(), after.send_ns() - before.send_ns())
            })
            .unwrap()
        });
        if on {
            assert_eq!(timed, 101);
            assert!(send_ns > 0);
        } else {
            assert_eq!((timed, send_ns), (0, 0));
        }
    }
}

/// `receive!` reads as Erlang's `receive` (Reference Manual, "Expressions", receive): the
/// first message in arrival order that a clause matches, guard included, is taken and the
/// others stay; clauses are tried in order for each message; `after` gives up when no
/// message matches in time. Bodies run after the receive, so they use `cx`, `continue`
/// and `return` freely.
#[test]
fn receive_macro_takes_the_first_matching_message_and_runs_its_body() {
    use heaplab_runtime::heaplab_gc::{OwnedTerm, Pid};
    use heaplab_runtime::receive;
    use std::time::Duration;

    let (log, left) = guarded(|| {
        runtime(2)
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let echo = cx
                    .spawn(|mut cx| async move {
                        loop {
                            receive!(cx, {
                                {echo, from: Pid, what: OwnedTerm} => {
                                    cx.send(from, |h| h.from_owned(&what));
                                }
                                stop => return,
                            });
                        }
                    })
                    .unwrap();
                cx.send(me, |h| h.int(-5));
                cx.send(me, |h| h.atom_named("noise"));
                cx.send(me, |h| h.tuple(&[h.atom_named("add"), h.int(2)]));
                cx.send(me, |h| h.int(7));
                let mut log = Vec::new();
                let mut sum = 0;
                while log.len() < 3 {
                    receive!(cx, {
                        n: i64 if n < 0 => { log.push(format!("negative {n}")); continue; }
                        {add, n: i64} => { sum += n; log.push(format!("add {n}")); }
                        n: i64 => log.push(format!("int {n}")),
                    });
                }
                cx.send(echo, |h| h.tuple(&[h.atom_named("echo"), h.pid(me), h.list([h.int(sum)])]));
                let echoed = receive!(cx, { [n: i64] => n } after Duration::from_secs(5) => -1);
                log.push(format!("echoed {echoed}"));
                let late = receive!(cx, { [_n: i64] => false } after Duration::from_millis(5) => true);
                log.push(format!("timed out {late}"));
                cx.send(echo, |h| h.atom_named("stop"));
                let left = cx.receive_timeout(Duration::ZERO, |_, m| Some(m.to_owned_term())).await;
                (log, left)
            })
            .unwrap()
    });
    assert_eq!(log, ["negative -5", "add 2", "int 7", "echoed 2", "timed out true"]);
    assert_eq!(left, Some(heaplab_runtime::heaplab_gc::OwnedTerm::atom("noise")), "no clause took it");
}
