//! Spawning: fan-out and fan-in at scale, the process limit, and panics inside processes.

use std::collections::HashSet;
use std::sync::mpsc;
use std::time::Duration;

use crate::common::{assert_drains, guarded, int, runtime};
use heaplab_runtime::heaplab_gc::OwnedTerm;
use heaplab_runtime::{ExitReason, Runtime, SpawnError};

/// One process spawns 100,000 children; each replies once with its pid and number. The
/// parent gets exactly 100,000 distinct replies, and afterwards every child has exited.
#[test]
fn fan_out_and_in_of_a_hundred_thousand_processes() {
    const CHILDREN: i64 = 100_000;
    let (replies, pids, spawned, exited) = guarded(|| {
        let rt = runtime(2);
        let baseline = rt.process_count();
        assert_eq!(baseline, 0);
        let (replies, pids) = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let mut spawned = HashSet::with_capacity(CHILDREN as usize);
                for i in 0..CHILDREN {
                    let pid = cx
                        .spawn(move |mut cx| async move {
                            let own = cx.self_pid();
                            cx.send(me, |h| h.tuple(&[h.pid(own), h.int(i)]));
                        })
                        .unwrap();
                    spawned.insert(pid);
                }
                let mut numbers = HashSet::with_capacity(CHILDREN as usize);
                let mut senders = HashSet::with_capacity(CHILDREN as usize);
                for _ in 0..CHILDREN {
                    let (pid, i) = cx
                        .receive(|_, m| match m.as_tuple()? {
                            [p, i] => Some((p.as_pid()?, i.as_int()?)),
                            _ => None,
                        })
                        .await;
                    assert!(numbers.insert(i), "child {i} replied twice");
                    assert!(senders.insert(pid), "{pid} replied twice");
                }
                // Nothing more arrives.
                let extra = cx.receive_timeout(Duration::from_millis(10), |_, _| Some(())).await;
                assert_eq!(extra, None, "a reply beyond the {CHILDREN} expected");
                assert_eq!(senders, spawned, "replies came from exactly the spawned pids");
                (numbers, senders.len())
            })
            .unwrap();
        assert_drains(&rt, baseline);
        let stats = rt.stats();
        (replies, pids, stats.spawned, stats.exited)
    });
    assert_eq!(replies.len(), CHILDREN as usize);
    assert_eq!(replies, (0..CHILDREN).collect::<HashSet<_>>());
    assert_eq!(pids, CHILDREN as usize);
    // The children and the parent.
    assert_eq!(spawned, CHILDREN as u64 + 1);
    assert_eq!(exited, spawned);
}

/// A child's first send goes to its parent without a lookup while the parent lives; once
/// the parent has ended, the child's message to it is dropped and the child goes on, and a
/// later message of the child to another process arrives.
#[test]
fn a_childs_message_to_its_ended_parent_is_dropped() {
    let got = guarded(|| {
        let rt = runtime(2);
        let (tx, rx) = mpsc::channel();
        let observer = rt
            .spawn(move |mut cx| async move {
                let n = cx.receive(|_, m| m.as_int()).await;
                tx.send(n).unwrap();
            })
            .unwrap();
        let (parent, child) = rt
            .block_on(move |mut cx| async move {
                let me = cx.self_pid();
                let child = cx
                    .spawn(move |mut cx| async move {
                        cx.send(me, |h| h.int(1));
                        // Told that the parent has ended: a message to it goes nowhere.
                        cx.receive(|_, m| m.is_nil().then_some(())).await;
                        cx.send(me, |h| h.int(2));
                        cx.send(observer, |h| h.int(3));
                    })
                    .unwrap();
                assert_eq!(cx.receive(|_, m| m.as_int()).await, 1);
                (me, child)
            })
            .unwrap();
        while rt.is_alive(parent) {
            std::thread::sleep(Duration::from_millis(1));
        }
        rt.send_owned(child, &OwnedTerm::Nil);
        let got = rx.recv_timeout(Duration::from_secs(20)).expect("the child's message to another process");
        assert_drains(&rt, 0);
        got
    });
    assert_eq!(got, 3);
}

/// A process that waits for integers from outside and reports each one on `tx`; a
/// negative integer ends it.
fn reporter(
    rt: &Runtime,
    id: usize,
    tx: mpsc::Sender<(usize, i64)>,
) -> Result<heaplab_runtime::heaplab_gc::Pid, SpawnError> {
    rt.spawn(move |mut cx| async move {
        loop {
            let n = cx.receive(int).await;
            if n < 0 {
                return;
            }
            tx.send((id, n)).unwrap();
        }
    })
}

/// With `max_processes = 100`, the 101st spawn fails with `TooManyProcesses`, the runtime and
/// its processes carry on, and once some exit, spawning works again up to the limit.
#[test]
fn spawning_past_the_limit_fails_and_the_runtime_carries_on() {
    guarded(|| {
        let rt = crate::common::builder().schedulers(2).max_processes(100).build().unwrap();
        let (tx, rx) = mpsc::channel();
        let mut pids = Vec::new();
        for id in 0..100 {
            pids.push(reporter(&rt, id, tx.clone()).expect("below the limit"));
        }
        assert_eq!(rt.process_count(), 100);
        let err = reporter(&rt, 100, tx.clone()).unwrap_err();
        assert_eq!(err, SpawnError::TooManyProcesses { limit: 100 });
        assert_eq!(err.to_string(), "cannot spawn: the process limit (100) is reached");
        // A failed spawn leaves no trace.
        assert_eq!(rt.process_count(), 100);
        assert_eq!(rt.stats().spawned, 100);
        assert_eq!(rt.stats().process_limit, 100);
        // `block_on` needs a process too, and says why it could not run.
        let reason = rt.block_on(|_cx| async {}).unwrap_err();
        assert_eq!(
            reason,
            ExitReason::Other(OwnedTerm::tuple(vec![
                OwnedTerm::atom("spawn_failed"),
                OwnedTerm::Binary(b"cannot spawn: the process limit (100) is reached".to_vec()),
            ]))
        );
        // Every existing process still answers.
        for (id, pid) in pids.iter().enumerate() {
            rt.send_owned(*pid, &OwnedTerm::Int(id as i64 * 10));
        }
        let mut answers: Vec<(usize, i64)> = (0..100).map(|_| rx.recv().unwrap()).collect();
        answers.sort();
        assert_eq!(answers, (0..100).map(|id| (id, id as i64 * 10)).collect::<Vec<_>>());
        // Ten exit; ten spawns succeed and the eleventh fails again.
        for pid in &pids[..10] {
            rt.send_owned(*pid, &OwnedTerm::Int(-1));
        }
        assert_drains(&rt, 90);
        for id in 100..110 {
            let pid = reporter(&rt, id, tx.clone()).expect("room after exits");
            assert!(!pids.contains(&pid), "pid {pid} reused");
            pids.push(pid);
        }
        assert_eq!(reporter(&rt, 110, tx.clone()).unwrap_err(), SpawnError::TooManyProcesses { limit: 100 });
        for (id, pid) in pids[10..].iter().enumerate() {
            rt.send_owned(*pid, &OwnedTerm::Int(id as i64));
        }
        let mut ids: Vec<usize> = (0..100).map(|_| rx.recv().unwrap().0).collect();
        ids.sort();
        assert_eq!(ids, (10..110).collect::<Vec<_>>());
        for pid in &pids[10..] {
            rt.send_owned(*pid, &OwnedTerm::Int(-1));
        }
        assert_drains(&rt, 0);
        assert_eq!(rt.stats().spawned, 110);
        assert_eq!(rt.stats().exited, 110);
    });
}

/// Spawning past the limit from inside a process returns the error to that process, which
/// keeps running.
#[test]
fn spawn_past_the_limit_from_a_process_returns_the_error() {
    let (err, answered) = guarded(|| {
        let rt = crate::common::builder().schedulers(2).max_processes(10).build().unwrap();
        let out = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let mut children = Vec::new();
                // The parent is one of the ten.
                for _ in 0..9 {
                    children.push(
                        cx.spawn(move |mut cx| async move {
                            let n = cx.receive(int).await;
                            cx.send(me, |h| h.int(n * 2));
                        })
                        .unwrap(),
                    );
                }
                let err = cx.spawn(|_cx| async {}).unwrap_err();
                for (i, child) in children.iter().enumerate() {
                    cx.send(*child, |h| h.int(i as i64));
                }
                let mut answered = Vec::new();
                for _ in 0..9 {
                    answered.push(cx.receive(int).await);
                }
                answered.sort();
                (err, answered)
            })
            .unwrap();
        assert_drains(&rt, 0);
        out
    });
    assert_eq!(err, SpawnError::TooManyProcesses { limit: 10 });
    assert_eq!(answered, (0..9).map(|i| i * 2).collect::<Vec<_>>());
}

/// A panic ends only the panicking process: `block_on` reports it with the exact message
/// (a literal or a formatted one), and the runtime keeps working afterwards.
#[test]
fn a_panic_ends_the_process_with_its_message_and_the_runtime_carries_on() {
    guarded(|| {
        let rt = crate::common::builder().schedulers(2).report_panics(false).build().unwrap();
        let reason = rt.block_on(|_cx| async { panic!("boom") }).unwrap_err();
        assert_eq!(reason, ExitReason::Panic("boom".to_owned()));
        assert_eq!(reason.to_string(), r#"{panic,"boom"}"#);
        let value = 7;
        let reason = rt
            .block_on(move |mut cx| async move {
                cx.yield_now().await;
                if value == 7 {
                    panic!("value was {value}, expected {}", value + 1);
                }
            })
            .unwrap_err();
        assert_eq!(reason, ExitReason::Panic("value was 7, expected 8".to_owned()));
        // Panic in every scheduler at once: a batch of children panic.
        rt.block_on(|mut cx| async move {
            for i in 0..50 {
                cx.spawn(move |_cx| async move { panic!("child {i}") }).unwrap();
            }
        })
        .unwrap();
        assert_drains(&rt, 0);
        // Spawn and message again.
        let echoed = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let child = cx
                    .spawn(move |mut cx| async move {
                        let n = cx.receive(int).await;
                        cx.send(me, |h| h.int(n + 1));
                    })
                    .unwrap();
                cx.send(child, |h| h.int(1));
                cx.receive(int).await
            })
            .unwrap();
        assert_eq!(echoed, 2);
        assert_drains(&rt, 0);
        let stats = rt.shutdown();
        assert_eq!(stats.spawned, stats.exited);
        assert_eq!(stats.schedulers.len(), 2);
    });
}

/// A panic in a child leaves its parent and siblings running.
#[test]
fn a_panicking_child_does_not_disturb_its_parent() {
    let got = guarded(|| {
        let rt = crate::common::builder().schedulers(2).report_panics(false).build().unwrap();
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            for i in 0..20 {
                cx.spawn(move |mut cx| async move {
                    if i % 2 == 0 {
                        panic!("even child {i}");
                    }
                    cx.send(me, |h| h.int(i));
                })
                .unwrap();
            }
            let mut got = Vec::new();
            for _ in 0..10 {
                got.push(cx.receive(int).await);
            }
            got.sort();
            got
        })
        .unwrap()
    });
    assert_eq!(got, (0..20).filter(|i| i % 2 == 1).collect::<Vec<i64>>());
}

/// Processes racing to spawn at the limit: exactly as many spawns succeed as there are free
/// places, and every other one fails; the count never passes the limit.
#[test]
fn concurrent_spawns_at_the_limit_never_exceed_it() {
    const LIMIT: usize = 1_000;
    const SPAWNERS: i64 = 4;
    const ATTEMPTS: i64 = 500;
    let (ok, failed, spawned) = guarded(|| {
        let rt = crate::common::builder().schedulers(2).max_processes(LIMIT).build().unwrap();
        let out = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let mut starting = Vec::new();
                for _ in 0..SPAWNERS {
                    let spawner = cx.spawn(move |mut cx| async move {
                        // Start together, once every spawner holds its place: a spawner that
                        // ran ahead could fill the table before the last one is spawned.
                        cx.receive(int).await;
                        let own = cx.self_pid();
                        let mut children = Vec::new();
                        let mut failed = 0;
                        for _ in 0..ATTEMPTS {
                            match cx.spawn(move |mut cx| async move {
                                cx.receive(int).await;
                            }) {
                                Ok(pid) => children.push(pid),
                                Err(SpawnError::TooManyProcesses { limit: LIMIT }) => failed += 1,
                                Err(e) => panic!("unexpected {e}"),
                            }
                            // Interleave with the other spawners.
                            cx.yield_now().await;
                        }
                        cx.send(me, |h| h.tuple(&[h.pid(own), h.int(children.len() as i64), h.int(failed)]));
                        // Hold the places until told, then let the children go.
                        cx.receive(int).await;
                        for child in children {
                            cx.send(child, |h| h.int(0));
                        }
                    });
                    starting.push(spawner.unwrap());
                }
                for spawner in starting {
                    cx.send(spawner, |h| h.int(0));
                }
                let (mut ok, mut failed, mut spawners) = (0, 0, Vec::new());
                for _ in 0..SPAWNERS {
                    let (pid, n, f) = cx
                        .receive(|_, m| match m.as_tuple()? {
                            [p, n, f] => Some((p.as_pid()?, n.as_int()?, f.as_int()?)),
                            _ => None,
                        })
                        .await;
                    ok += n;
                    failed += f;
                    spawners.push(pid);
                }
                for pid in spawners {
                    cx.send(pid, |h| h.int(0));
                }
                (ok, failed)
            })
            .unwrap();
        let spawned = rt.stats().spawned;
        assert_drains(&rt, 0);
        (out.0, out.1, spawned)
    });
    // The parent and the spawners hold five places.
    assert_eq!(ok, LIMIT as i64 - 1 - SPAWNERS);
    assert_eq!(failed, SPAWNERS * ATTEMPTS - ok);
    assert_eq!(spawned, LIMIT as u64, "every place was used once and none twice");
}

#[test]
fn spawn_with_invalid_heap_options_is_an_error_and_the_runtime_goes_on() {
    use heaplab_runtime::heaplab_gc::{ConfigError, HeapOptions};
    use heaplab_runtime::SpawnOptions;
    let rt = crate::common::builder().schedulers(1).build().unwrap();
    let bad = SpawnOptions {
        heap: Some(HeapOptions { min_heap_size: 1, ..HeapOptions::default() }),
        ..SpawnOptions::default()
    };
    let err = rt.spawn_opt(bad, |_cx| async move {}).unwrap_err();
    assert_eq!(err, SpawnError::InvalidHeapOptions(ConfigError::MinHeapTooSmall { given: 1 }));
    assert_eq!(
        err.to_string(),
        "cannot spawn: invalid heap options: min_heap_size 1 words is too small; it must be at least 12 words"
    );
    assert_eq!(rt.process_count(), 0);
    assert_eq!(rt.block_on(|_cx| async move { 7 }).unwrap(), 7);
}

/// Spawns `n` processes that each wait for one message; returns their pids.
fn spawn_waiting(rt: &Runtime, n: usize) -> Vec<heaplab_runtime::heaplab_gc::Pid> {
    rt.block_on(move |mut cx| async move {
        let mut pids = Vec::with_capacity(n);
        for _ in 0..n {
            pids.push(cx.spawn(|mut cx| async move { cx.receive(|_, _| Some(())).await }).unwrap());
            cx.tick(0).await;
        }
        pids
    })
    .unwrap()
}

/// Sends `[]` to each of `pids` from a process, yielding after each send.
fn send_each(rt: &Runtime, pids: Vec<heaplab_runtime::heaplab_gc::Pid>) {
    rt.block_on(move |mut cx| async move {
        for pid in pids {
            cx.send(pid, |h| h.nil());
            cx.tick(0).await;
        }
    })
    .unwrap();
}

/// Spawns `n` processes that each wait for one message, then stops them all and waits
/// until every one has exited; returns their pids.
fn run_burst(rt: &Runtime, n: usize) -> Vec<heaplab_runtime::heaplab_gc::Pid> {
    let pids = spawn_waiting(rt, n);
    // The root that spawned them may not have been removed yet.
    assert!(rt.process_count() >= n);
    send_each(rt, pids.clone());
    while rt.process_count() > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    pids
}

/// Waits until the runtime has trimmed once, or `idle` has passed. Waits for the event,
/// not for a time: a slow machine only makes this take longer.
fn wait_for_trim(rt: &Runtime, idle: Duration) {
    let start = std::time::Instant::now();
    while rt.stats().trims == 0 && start.elapsed() < idle {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs a burst of `n` processes; returns the runtime's counters once it has been idle for
/// `idle` after the last exit.
fn burst(builder: heaplab_runtime::Builder, n: usize, idle: Duration) -> heaplab_runtime::RuntimeStats {
    let rt = builder.schedulers(2).build().unwrap();
    run_burst(&rt, n);
    wait_for_trim(&rt, idle);
    rt.shutdown()
}

/// When a burst of processes has exited and the runtime is idle, a scheduler gives their
/// memory back once; a runtime told not to never does; a burst smaller than the threshold
/// does not.
#[test]
fn an_ended_burst_gives_memory_back_once() {
    let n = 2 * heaplab_runtime::TRIM_AFTER_EXITS as usize;
    let stats = guarded(move || burst(crate::common::builder(), n, Duration::from_secs(20)));
    assert_eq!(stats.trims, 1, "trims after a burst of {n}");
    assert!(stats.trim_ns > 0);
    // The process table's chunks whose slots were all free at the trim are freed. On a
    // quiet machine that is every chunk but the top one, which the table grows into; on a
    // busy one, exits may pause long enough for the trim to come while the last processes
    // still exit, and their chunks stay: so only "fewer than without trimming" is certain.
    let filled = n.div_ceil(heaplab_runtime::PROCESS_TABLE_CHUNK);
    assert!(stats.process_table_chunks < filled, "{} of {filled} chunks kept", stats.process_table_chunks);
    let off =
        guarded(move || burst(crate::common::builder().trim_when_idle(false), n, Duration::from_millis(200)));
    assert_eq!(off.trims, 0);
    assert_eq!(off.process_table_chunks, filled);
    let small = guarded(|| burst(crate::common::builder(), 1000, Duration::from_millis(200)));
    assert_eq!(small.trims, 0);
}

/// A process table chunk freed by a trim is made again for the next spawns, and no pid of a
/// process from before the trim is handed out again or finds one of the new processes.
#[test]
fn a_freed_table_chunk_gives_no_old_pid_again() {
    guarded(|| {
        let n = 2 * heaplab_runtime::TRIM_AFTER_EXITS as usize;
        let rt = crate::common::builder().schedulers(2).build().unwrap();
        let old = run_burst(&rt, n);
        // Lookups of the old pids from another thread while the chunks are freed: each
        // finds nothing, and none reads a freed chunk (a lookup holds the chunk it loaded).
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    assert!(old.iter().step_by(7).all(|&pid| !rt.is_alive(pid)));
                }
            });
            wait_for_trim(&rt, Duration::from_secs(20));
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(rt.stats().trims, 1);
        assert!(rt.stats().process_table_chunks < n.div_ceil(heaplab_runtime::PROCESS_TABLE_CHUNK));
        let new = spawn_waiting(&rt, n);
        let index = |pid: &heaplab_runtime::heaplab_gc::Pid| {
            pid.number() & ((1 << heaplab_runtime::heaplab_gc::PID_INDEX_BITS) - 1)
        };
        // The new processes went into the freed chunks' slots...
        let old_indices: HashSet<u64> = old.iter().map(index).collect();
        assert!(new.iter().filter(|pid| old_indices.contains(&index(pid))).count() >= n / 2);
        // ...under serials none of the old ones had.
        let old_pids: HashSet<_> = old.iter().copied().collect();
        assert!(new.iter().all(|pid| !old_pids.contains(pid)));
        assert!(old.iter().all(|&pid| !rt.is_alive(pid)));
        assert!(new.iter().all(|&pid| rt.is_alive(pid)));
        // A message to an old pid reaches none of the new processes: each still waits.
        send_each(&rt, old.clone());
        std::thread::sleep(Duration::from_millis(50));
        assert!(new.iter().all(|&pid| rt.is_alive(pid)));
        rt.shutdown();
    });
}
