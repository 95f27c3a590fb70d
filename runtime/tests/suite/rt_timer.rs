//! Timers: receive timeouts, `sleep` and `send_after`.
//!
//! Only lower bounds on elapsed time are asserted (a timer never fires early); how late it
//! fires depends on the machine's load and is not asserted.

use std::time::{Duration, Instant};

use crate::common::{assert_drains, atom, guarded, int, runtime};

/// Nothing matches: the receive gives up with `None` after at least the timeout, and the
/// message it did not match is still there.
#[test]
fn receive_timeout_returns_none_when_nothing_matches() {
    let (result, elapsed, left) = guarded(|| {
        let rt = runtime(2);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            cx.send(me, |h| h.atom_named("unrelated"));
            let start = Instant::now();
            let r = cx.receive_timeout(Duration::from_millis(30), int).await;
            let elapsed = start.elapsed();
            let left = cx.receive(atom).await;
            (r, elapsed, left)
        })
        .unwrap()
    });
    assert_eq!(result, None);
    assert!(elapsed >= Duration::from_millis(30), "timed out early, after {elapsed:?}");
    assert_eq!(left, "unrelated");
}

/// A message that arrives before the timeout is returned.
#[test]
fn receive_timeout_returns_a_message_that_arrives_in_time() {
    let got = guarded(|| {
        let rt = runtime(2);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            cx.spawn(move |mut cx| async move {
                cx.sleep(Duration::from_millis(20)).await;
                cx.send(me, |h| h.int(99));
            })
            .unwrap();
            // Generous: the reply comes after ~20 ms; the timeout only bounds a failure.
            cx.receive_timeout(Duration::from_secs(30), int).await
        })
        .unwrap()
    });
    assert_eq!(got, Some(99));
}

/// A zero timeout polls the mailbox once: it finds a message already sent (even one not yet
/// moved into the heap) and returns `None` at once otherwise.
#[test]
fn zero_timeout_polls_once() {
    let (empty, present, after_miss) = guarded(|| {
        let rt = runtime(1);
        rt.block_on(|mut cx| async move {
            let empty = cx.receive_timeout(Duration::ZERO, int).await;
            let me = cx.self_pid();
            cx.send(me, |h| h.int(5));
            let present = cx.receive_timeout(Duration::ZERO, int).await;
            cx.send(me, |h| h.atom_named("other"));
            let after_miss = cx.receive_timeout(Duration::ZERO, int).await;
            (empty, present, after_miss)
        })
        .unwrap()
    });
    assert_eq!(empty, None);
    assert_eq!(present, Some(5));
    assert_eq!(after_miss, None);
}

/// A thousand processes, each with its own timeout from 1 to 1000 ms (more than one turn of
/// the timer wheel), all time out no earlier than asked; then the runtime still works.
#[test]
fn a_thousand_concurrent_timeouts_all_expire() {
    const N: i64 = 1_000;
    let results = guarded(|| {
        let rt = runtime(2);
        let results = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                for i in 1..=N {
                    cx.spawn(move |mut cx| async move {
                        let timeout = Duration::from_millis(i as u64);
                        let start = Instant::now();
                        let r = cx.receive_timeout(timeout, int).await;
                        let early = start.elapsed() < timeout;
                        let code = match (r, early) {
                            (None, false) => 0,
                            (None, true) => 1,
                            (Some(_), _) => 2,
                        };
                        cx.send(me, |h| h.tuple(&[h.int(i), h.int(code)]));
                    })
                    .unwrap();
                }
                let mut results = vec![-1; N as usize + 1];
                for _ in 0..N {
                    let (i, code) = cx
                        .receive(|_, m| match m.as_tuple()? {
                            [i, c] => Some((i.as_int()?, c.as_int()?)),
                            _ => None,
                        })
                        .await;
                    assert_eq!(results[i as usize], -1, "process {i} answered twice");
                    results[i as usize] = code;
                }
                results
            })
            .unwrap();
        assert_drains(&rt, 0);
        // Still healthy: a round trip through a fresh process.
        let echoed = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let child = cx
                    .spawn(move |mut cx| async move {
                        let n = cx.receive(int).await;
                        cx.send(me, |h| h.int(n + 1));
                    })
                    .unwrap();
                cx.send(child, |h| h.int(41));
                cx.receive(int).await
            })
            .unwrap();
        assert_eq!(echoed, 42);
        assert_drains(&rt, 0);
        results
    });
    let early: Vec<usize> = (1..=N as usize).filter(|&i| results[i] == 1).collect();
    let matched: Vec<usize> = (1..=N as usize).filter(|&i| results[i] == 2).collect();
    assert!(early.is_empty(), "timed out before their timeout: {early:?}");
    assert!(matched.is_empty(), "received a message nobody sent: {matched:?}");
    assert!(results[1..].iter().all(|&c| c == 0));
}

/// A receive that got its message well before the timeout leaves its timer behind in the
/// wheel; when that timer fires, it must not end a later receive early or deliver anything.
#[test]
fn an_answered_timeout_does_not_disturb_later_receives() {
    let (first, second, elapsed) = guarded(|| {
        // One scheduler: the child runs only once the first receive waits, with its timer set.
        let rt = runtime(1);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            cx.spawn(move |mut cx| async move { cx.send(me, |h| h.int(1)) }).unwrap();
            let first = cx.receive_timeout(Duration::from_millis(20), int).await;
            // The first receive's 20 ms timer fires during this one and must not end it.
            let start = Instant::now();
            let second = cx.receive_timeout(Duration::from_millis(60), int).await;
            (first, second, start.elapsed())
        })
        .unwrap()
    });
    assert_eq!(first, Some(1));
    assert_eq!(second, None);
    assert!(elapsed >= Duration::from_millis(60), "second receive ended after {elapsed:?}");
}

/// `sleep` returns no earlier than asked, for delays below, at and above the wheel's tick.
#[test]
fn sleep_lasts_at_least_the_delay() {
    let delays = [0u64, 1, 3, 20, 100];
    let elapsed = guarded(move || {
        let rt = runtime(2);
        rt.block_on(move |mut cx| async move {
            let mut out = Vec::new();
            for ms in delays {
                let start = Instant::now();
                cx.sleep(Duration::from_millis(ms)).await;
                out.push(start.elapsed());
            }
            let start = Instant::now();
            cx.sleep(Duration::from_micros(1500)).await;
            out.push(start.elapsed());
            out
        })
        .unwrap()
    });
    for (ms, e) in delays.iter().zip(&elapsed) {
        assert!(*e >= Duration::from_millis(*ms), "sleep({ms} ms) returned after {e:?}");
    }
    assert!(elapsed[5] >= Duration::from_micros(1500), "sleep(1.5 ms) returned after {:?}", elapsed[5]);
}

/// `send_after` delivers exactly one message, no earlier than the delay, to the target,
/// whether the target is the sender or another process.
#[test]
fn send_after_delivers_after_the_delay() {
    let (own, other) = guarded(|| {
        let rt = runtime(2);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            let start = Instant::now();
            cx.send_after(Duration::from_millis(25), me, |h| h.int(1));
            let n = cx.receive(int).await;
            let own = (n, start.elapsed());
            // To another process, which reports when it got it.
            let child = cx
                .spawn(move |mut cx| async move {
                    let n = cx.receive(int).await;
                    cx.send(me, |h| h.int(n));
                    // Exactly one: nothing else arrives.
                    let extra = cx.receive_timeout(Duration::from_millis(30), int).await;
                    cx.send(me, |h| h.bool(extra.is_none()));
                })
                .unwrap();
            let start = Instant::now();
            cx.send_after(Duration::from_millis(15), child, |h| h.int(2));
            let n = cx.receive(int).await;
            let waited = start.elapsed();
            let only_one = cx.receive(|_, m| m.as_atom().map(|a| a.name() == "true")).await;
            let own_extra = cx.receive_timeout(Duration::ZERO, int).await;
            (own, (n, waited, only_one, own_extra))
        })
        .unwrap()
    });
    assert_eq!(own.0, 1);
    assert!(own.1 >= Duration::from_millis(25), "delivered after {:?}", own.1);
    let (n, waited, only_one, own_extra) = other;
    assert_eq!(n, 2);
    assert!(waited >= Duration::from_millis(15), "answered after {waited:?}");
    assert!(only_one, "the child received a second message");
    assert_eq!(own_extra, None);
}

/// `send_after` to a process that has exited by the time the timer fires drops the message,
/// even when a new process has taken the dead one's table slot (pids are not reused).
#[test]
fn send_after_to_a_dead_process_is_dropped() {
    use heaplab_runtime::heaplab_gc::PID_INDEX_BITS;
    let index = |pid: heaplab_runtime::heaplab_gc::Pid| pid.number() & ((1 << PID_INDEX_BITS) - 1);
    let (dead, reused, got) = guarded(|| {
        let rt = runtime(2);
        let dead = rt.spawn(|_cx| async {}).unwrap();
        assert_drains(&rt, 0);
        let (reused, got) = rt
            .block_on(move |mut cx| async move {
                cx.send_after(Duration::from_millis(5), dead, |h| h.int(1));
                let got = cx.receive_timeout(Duration::from_millis(50), int).await;
                (cx.self_pid(), got)
            })
            .unwrap();
        assert_drains(&rt, 0);
        (dead, reused, got)
    });
    assert_eq!(index(reused), index(dead), "the test means to reuse the dead process's slot");
    assert_ne!(reused, dead);
    assert_eq!(got, None, "a message for the dead process reached the slot's new owner");
}

/// Timers that fire together deliver in deadline order, and timers with the same delay set
/// one after another deliver in the order they were set.
#[test]
fn send_after_messages_arrive_in_deadline_order() {
    let got = guarded(|| {
        let rt = runtime(1);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            for i in 0..10 {
                cx.send_after(Duration::from_millis(20), me, |h| h.int(i));
            }
            let mut got = Vec::new();
            for _ in 0..10 {
                got.push(cx.receive(int).await);
            }
            got
        })
        .unwrap()
    });
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

/// Timers more than one turn of the wheel apart that come due in the same advance (the
/// scheduler was held up) still deliver in deadline order.
#[test]
fn timers_due_together_across_a_wheel_turn_arrive_in_deadline_order() {
    let got = guarded(|| {
        let rt = runtime(1);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            // Bring the wheel's clock up to now.
            cx.sleep(Duration::from_millis(1)).await;
            let turn = heaplab_runtime::TIMER_TICK * heaplab_runtime::TIMER_SLOTS as u32;
            cx.send_after(turn + Duration::from_millis(100), me, |h| h.atom_named("late"));
            cx.send_after(Duration::from_millis(100), me, |h| h.atom_named("early"));
            // Hold the only scheduler past both deadlines (a deliberate overrun), so both
            // timers fire at its next look at the wheel.
            std::thread::sleep(turn + Duration::from_millis(150));
            let mut got = Vec::new();
            for _ in 0..2 {
                got.push(cx.receive(atom).await);
            }
            got
        })
        .unwrap()
    });
    assert_eq!(got, ["early", "late"]);
}
