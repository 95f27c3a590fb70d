//! Scheduling: work stealing, preemption by reductions (fairness), priorities, and parking
//! when idle.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{assert_drains, guarded, int, runtime, wait_until};
use heaplab_runtime::{Priority, SpawnOptions, LOW_SKIPS};

/// Some real computation between two reduction charges.
fn spin(n: u64) -> u64 {
    let mut x = 0u64;
    for i in 0..n {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    x
}

/// One process spawns many CPU-bound processes on a two-scheduler runtime: they start on
/// its scheduler's queue, and the other scheduler steals some of them.
#[test]
fn work_stealing_spreads_busy_processes_over_both_schedulers() {
    const PROCESSES: i64 = 200;
    let (seen, steals) = guarded(|| {
        let rt = runtime(2);
        let seen = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                for _ in 0..PROCESSES {
                    cx.spawn(move |mut cx| async move {
                        let mut mask = 0i64;
                        for _ in 0..40 {
                            black_box(spin(2_000));
                            cx.tick(1_000).await;
                            mask |= 1 << cx.scheduler_id().expect("runs on a scheduler");
                        }
                        cx.send(me, |h| h.int(mask));
                    })
                    .unwrap();
                }
                let mut seen = 0;
                for _ in 0..PROCESSES {
                    seen |= cx.receive(int).await;
                }
                seen
            })
            .unwrap();
        assert_drains(&rt, 0);
        (seen, rt.stats().steals())
    });
    assert_eq!(seen, 0b11, "processes ran on schedulers {seen:#b}, not on both");
    assert!(steals > 0, "no process was stolen");
}

/// On one scheduler, a process that never waits (it only charges reductions) must still
/// be preempted often enough for a ping-pong pair to finish its round trips. The busy loop
/// stops only when the pair is done, so a scheduler that does not preempt hangs here, and
/// the watchdog turns the hang into a failure.
#[test]
fn a_busy_loop_does_not_starve_a_ping_pong_pair() {
    const ROUND_TRIPS: i64 = 2_000;
    let (trips, busy_ticks) = guarded(|| {
        let rt = runtime(1);
        let stop = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicU64::new(0));
        let (busy_stop, busy_ticks) = (Arc::clone(&stop), Arc::clone(&ticks));
        rt.spawn(move |mut cx| async move {
            while !busy_stop.load(Ordering::Acquire) {
                black_box(spin(1_000));
                busy_ticks.fetch_add(1, Ordering::Relaxed);
                cx.tick(1_000).await;
            }
        })
        .unwrap();
        let trips = rt
            .block_on(move |mut cx| async move {
                let me = cx.self_pid();
                let pong = cx
                    .spawn(move |mut cx| async move {
                        loop {
                            let n = cx.receive(int).await;
                            cx.send(me, |h| h.int(n));
                            if n == ROUND_TRIPS - 1 {
                                return;
                            }
                        }
                    })
                    .unwrap();
                let mut trips = 0;
                for i in 0..ROUND_TRIPS {
                    cx.send(pong, |h| h.int(i));
                    assert_eq!(cx.receive(int).await, i);
                    trips += 1;
                }
                stop.store(true, Ordering::Release);
                trips
            })
            .unwrap();
        assert_drains(&rt, 0);
        (trips, ticks.load(Ordering::Relaxed))
    });
    assert_eq!(trips, ROUND_TRIPS);
    // The busy process shared the scheduler with the pair throughout: it got a slice
    // between the round trips, not only before or after them.
    assert!(busy_ticks >= ROUND_TRIPS as u64, "busy loop ran only {busy_ticks} ticks");
}

/// The same with everything spawned from inside the runtime: the busy loop and the pair
/// share the one scheduler's local queue, and only preemption lets the pair run.
#[test]
fn a_busy_loop_spawned_alongside_does_not_starve_a_ping_pong_pair() {
    const ROUND_TRIPS: i64 = 2_000;
    let trips = guarded(|| {
        let rt = runtime(1);
        let trips = rt
            .block_on(move |mut cx| async move {
                let me = cx.self_pid();
                let stop = Arc::new(AtomicBool::new(false));
                let busy_stop = Arc::clone(&stop);
                cx.spawn(move |mut cx| async move {
                    while !busy_stop.load(Ordering::Acquire) {
                        black_box(spin(1_000));
                        cx.tick(1_000).await;
                    }
                })
                .unwrap();
                // Let the busy loop start first.
                cx.yield_now().await;
                let pong = cx
                    .spawn(move |mut cx| async move {
                        for _ in 0..ROUND_TRIPS {
                            let n = cx.receive(int).await;
                            cx.send(me, |h| h.int(n));
                        }
                    })
                    .unwrap();
                let mut trips = 0;
                for i in 0..ROUND_TRIPS {
                    cx.send(pong, |h| h.int(i));
                    assert_eq!(cx.receive(int).await, i);
                    trips += 1;
                }
                stop.store(true, Ordering::Release);
                trips
            })
            .unwrap();
        assert_drains(&rt, 0);
        trips
    });
    assert_eq!(trips, ROUND_TRIPS);
}

/// A process woken from outside the runtime (a message sent by another thread) runs even
/// though the only scheduler always has a busy process in its queue.
#[test]
fn a_process_woken_from_outside_runs_beside_a_busy_loop() {
    use heaplab_runtime::heaplab_gc::OwnedTerm;
    const ROUND_TRIPS: i64 = 200;
    let answers = guarded(|| {
        let rt = runtime(1);
        let stop = Arc::new(AtomicBool::new(false));
        let busy_stop = Arc::clone(&stop);
        rt.spawn(move |mut cx| async move {
            while !busy_stop.load(Ordering::Acquire) {
                black_box(spin(1_000));
                cx.tick(1_000).await;
            }
        })
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let echo = rt
            .spawn(move |mut cx| async move {
                for _ in 0..ROUND_TRIPS {
                    let n = cx.receive(int).await;
                    tx.send(n).unwrap();
                }
            })
            .unwrap();
        let mut answers = Vec::new();
        for i in 0..ROUND_TRIPS {
            rt.send_owned(echo, &OwnedTerm::Int(i));
            answers.push(rx.recv().unwrap());
        }
        stop.store(true, Ordering::Release);
        assert_drains(&rt, 0);
        answers
    });
    assert_eq!(answers, (0..ROUND_TRIPS).collect::<Vec<_>>());
}

/// On one scheduler, queued work runs by priority: `max`, then `high`, then `normal` in
/// the order queued, and `low` when no normal work is left.
#[test]
fn higher_priorities_run_before_queued_normal_work() {
    let log = guarded(|| {
        let rt = runtime(1);
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        rt.block_on(move |mut cx| async move {
            let spawn = |cx: &mut heaplab_runtime::Cx, priority: Priority, name: String| {
                let log = Arc::clone(&shared);
                cx.spawn_opt(SpawnOptions { priority, ..Default::default() }, move |_cx| async move {
                    log.lock().unwrap().push(name);
                })
                .unwrap();
            };
            spawn(&mut cx, Priority::Normal, "normal 0".into());
            spawn(&mut cx, Priority::Low, "low".into());
            spawn(&mut cx, Priority::Normal, "normal 1".into());
            spawn(&mut cx, Priority::High, "high".into());
            spawn(&mut cx, Priority::Normal, "normal 2".into());
            spawn(&mut cx, Priority::Max, "max".into());
            shared.lock().unwrap().push("parent".to_owned());
        })
        .unwrap();
        assert_drains(&rt, 0);
        let log = log.lock().unwrap().clone();
        log
    });
    assert_eq!(log, ["parent", "max", "high", "normal 0", "normal 1", "normal 2", "low"]);
}

/// Processes woken by messages run in the order they were woken, whichever way the
/// scheduler hands them over (the first one woken beside an empty queue skips the queue):
/// one process wakes four waiting ones, then a fifth process is spawned behind them, and on
/// one scheduler they all run first-in first-out after the waker's slice.
#[test]
fn processes_woken_by_messages_run_in_the_order_woken() {
    let log = guarded(|| {
        let rt = runtime(1);
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        rt.block_on(move |mut cx| async move {
            let mut waiting = Vec::new();
            for i in 0..4 {
                let log = Arc::clone(&shared);
                waiting.push(
                    cx.spawn(move |mut cx| async move {
                        let n = cx.receive(int).await;
                        log.lock().unwrap().push(format!("woken {i} by {n}"));
                    })
                    .unwrap(),
                );
            }
            // Let every waiting process reach its receive.
            cx.yield_now().await;
            for (n, &pid) in waiting.iter().enumerate().rev() {
                cx.send(pid, |h| h.int(n as i64));
            }
            let log = Arc::clone(&shared);
            cx.spawn(move |_cx| async move { log.lock().unwrap().push("spawned".to_owned()) }).unwrap();
            shared.lock().unwrap().push("waker".to_owned());
        })
        .unwrap();
        assert_drains(&rt, 0);
        let log = log.lock().unwrap().clone();
        log
    });
    assert_eq!(log, ["waker", "woken 3 by 3", "woken 2 by 2", "woken 1 by 1", "woken 0 by 0", "spawned"]);
}

/// A process raised to `high` with `set_priority` runs before normal work queued earlier.
#[test]
fn set_priority_takes_effect_at_the_next_queueing() {
    let log = guarded(|| {
        let rt = runtime(1);
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        rt.block_on(move |mut cx| async move {
            for i in 0..3 {
                let log = Arc::clone(&shared);
                cx.spawn(move |_cx| async move { log.lock().unwrap().push(format!("normal {i}")) }).unwrap();
            }
            assert_eq!(cx.set_priority(Priority::High), Priority::Normal);
            // Yielding queues this process again, now at high priority: it runs first.
            cx.yield_now().await;
            shared.lock().unwrap().push("raised".to_owned());
            assert_eq!(cx.set_priority(Priority::Normal), Priority::High);
        })
        .unwrap();
        assert_drains(&rt, 0);
        let log = log.lock().unwrap().clone();
        log
    });
    assert_eq!(log, ["raised", "normal 0", "normal 1", "normal 2"]);
}

/// A `low` process is not starved by normal processes that are always runnable: it gets a
/// turn every few normal picks. The normal processes stop only once the low one has run,
/// so starvation hangs and the watchdog fails the test.
#[test]
fn low_priority_runs_while_normal_work_exists() {
    let (normal_slices_before_low, low_ran) = guarded(|| {
        let rt = runtime(1);
        let low_ran = Arc::new(AtomicBool::new(false));
        let normal_slices = Arc::new(AtomicU64::new(0));
        let at_low = Arc::new(AtomicU64::new(u64::MAX));
        let (flag, slices, seen) = (Arc::clone(&low_ran), Arc::clone(&normal_slices), Arc::clone(&at_low));
        rt.block_on(move |mut cx| async move {
            let me = cx.self_pid();
            for _ in 0..3 {
                let (flag, slices) = (Arc::clone(&flag), Arc::clone(&slices));
                cx.spawn(move |mut cx| async move {
                    while !flag.load(Ordering::Acquire) {
                        slices.fetch_add(1, Ordering::Relaxed);
                        // One slice per loop: the whole budget at once.
                        cx.tick(u64::from(heaplab_runtime::DEFAULT_REDUCTIONS)).await;
                    }
                    cx.send(me, |h| h.int(0));
                })
                .unwrap();
            }
            let (flag, slices) = (Arc::clone(&flag), Arc::clone(&slices));
            cx.spawn_opt(
                SpawnOptions { priority: Priority::Low, ..Default::default() },
                move |_cx| async move {
                    seen.store(slices.load(Ordering::Relaxed), Ordering::Relaxed);
                    flag.store(true, Ordering::Release);
                },
            )
            .unwrap();
            for _ in 0..3 {
                cx.receive(int).await;
            }
        })
        .unwrap();
        assert_drains(&rt, 0);
        (at_low.load(Ordering::Relaxed), low_ran.load(Ordering::Relaxed))
    });
    assert!(low_ran);
    // The low process runs after at most LOW_SKIPS normal picks (the parent's first pick
    // included), not after the normal processes gave up.
    assert!(
        normal_slices_before_low < u64::from(LOW_SKIPS),
        "{normal_slices_before_low} normal slices ran before the low process"
    );
}

/// An idle runtime parks its scheduler threads: after the work is done, every scheduler has
/// parked, and while the runtime stays idle no scheduler runs a slice or wakes up.
#[test]
fn idle_schedulers_park_and_stay_parked() {
    let (settled, later) = guarded(|| {
        let rt = runtime(2);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            for i in 0..100 {
                cx.spawn(move |mut cx| async move {
                    cx.tick(5_000).await;
                    cx.send(me, |h| h.int(i));
                })
                .unwrap();
            }
            for _ in 0..100 {
                cx.receive(int).await;
            }
        })
        .unwrap();
        assert_drains(&rt, 0);
        // Every scheduler gets to its park.
        assert!(
            wait_until(crate::common::HANG, || rt.stats().schedulers.iter().all(|s| s.parks > 0)),
            "a scheduler never parked: {:?}",
            rt.stats().schedulers
        );
        std::thread::sleep(Duration::from_millis(50));
        let settled = rt.stats();
        std::thread::sleep(Duration::from_millis(300));
        (settled, rt.stats())
    });
    let slices: BTreeSet<usize> = settled.schedulers.iter().map(|s| s.slices).collect();
    assert!(slices.iter().sum::<usize>() > 0);
    for (i, (a, b)) in settled.schedulers.iter().zip(&later.schedulers).enumerate() {
        assert!(a.parks > 0, "scheduler {i} never parked");
        assert_eq!(a.slices, b.slices, "scheduler {i} ran slices while the runtime was idle");
        assert_eq!(a.parks, b.parks, "scheduler {i} woke up while the runtime was idle");
    }
}

/// A process that holds its scheduler for 10 ms without an await point is counted as an
/// overrun and shows in the slice histogram; with a threshold above it, it is not counted.
#[test]
fn a_long_slice_counts_as_an_overrun() {
    let run = |threshold: Duration| {
        guarded(move || {
            let rt = crate::common::builder().schedulers(1).overrun_threshold(threshold).build().unwrap();
            rt.block_on(|_cx| async {
                // A deliberate overrun: blocking without an await point.
                std::thread::sleep(Duration::from_millis(10));
            })
            .unwrap();
            rt.shutdown()
        })
    };
    let counted = run(heaplab_runtime::DEFAULT_OVERRUN_THRESHOLD);
    assert!(counted.overruns() >= 1, "the 10 ms slice was not counted");
    let longest = counted.schedulers[0].slice_ns[3];
    assert!(longest >= 10_000_000, "longest slice recorded: {longest} ns");
    let lenient = run(Duration::from_secs(3600));
    assert_eq!(lenient.overruns(), 0);
}

/// Slices are timed only when asked: by default the same 10 ms slice leaves no length and
/// no overrun behind (and costs no clock read).
#[test]
fn slices_are_untimed_by_default() {
    let stats = guarded(|| {
        let rt = crate::common::builder().schedulers(1).build().unwrap();
        rt.block_on(|_cx| async {
            std::thread::sleep(Duration::from_millis(10));
        })
        .unwrap();
        rt.shutdown()
    });
    assert!(stats.schedulers[0].slices >= 1);
    assert_eq!(stats.overruns(), 0);
    assert_eq!(stats.schedulers[0].slice_ns, [0; 4]);
}
