//! Supervisor strategies, restart types and restart intensity, rule by rule against OTP's
//! `supervisor`: which children a crash restarts, in which order they stop and start, when a
//! child is not restarted, and when the supervisor gives up.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::guarded;
use crate::sup_support::{
    child_pid, down, exit_command, exit_message_from, restarted, runtime, spawn_worker, template, worker,
    worker_with, Log, OnShutdown,
};
use heaplab_runtime::gen_server::Started;
use heaplab_runtime::heaplab_gc::{OwnedTerm, Pid};
use heaplab_runtime::supervisor::{
    self, start_fn, ChildCounts, ChildSpec, ChildState, Flags, Restart, Strategy,
};
use heaplab_runtime::{Cx, ExitReason};

/// Starts a supervisor with these flags and children; returns its pid.
async fn start(cx: &mut Cx, flags: Flags, children: Vec<ChildSpec>) -> Pid {
    supervisor::start_link(cx, flags, children).await.expect("supervisor starts").pid().unwrap()
}

async fn pids(cx: &mut Cx, sup: Pid, ids: &[&str]) -> Vec<Pid> {
    let mut pids = Vec::new();
    for id in ids {
        pids.push(child_pid(cx, sup, id).await.expect("child runs"));
    }
    pids
}

fn crash(cx: &mut Cx, pid: Pid) {
    cx.send(pid, |h| h.atom_named("crash"));
}

/// Three workers that log their shutdown, under `strategy`; crashes `b` and returns the log
/// once every child in `restarted_ids` runs as a new process, plus the pids before and after.
fn crash_b(strategy: Strategy, restarted_ids: &'static [&'static str]) -> (Vec<String>, Vec<Pid>, Vec<Pid>) {
    let log = Log::default();
    let children: Vec<ChildSpec> =
        ["a", "b", "c"].iter().map(|id| worker_with(id, &log, OnShutdown::Clean)).collect();
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, Flags::new(strategy).intensity(10), children).await;
                let before = pids(&mut cx, sup, &["a", "b", "c"]).await;
                crash(&mut cx, before[1]);
                for id in restarted_ids {
                    let i = ["a", "b", "c"].iter().position(|x| x == id).unwrap();
                    restarted(&mut cx, sup, id, before[i]).await;
                }
                let after = pids(&mut cx, sup, &["a", "b", "c"]).await;
                // Read now: when this process returns, the supervisor (its child, trapping
                // exits) stops too and logs the stops.
                (log.entries(), before, after)
            })
            .unwrap()
    })
}

#[test]
fn one_for_one_restarts_only_the_child_that_exited() {
    let (log, before, after) = crash_b(Strategy::OneForOne, &["b"]);
    assert_eq!(log, ["start a", "start b", "start c", "start b"]);
    assert_eq!((after[0], after[2]), (before[0], before[2]));
    assert_ne!(after[1], before[1]);
}

#[test]
fn one_for_all_stops_the_others_in_reverse_order_and_restarts_all_in_order() {
    let (log, before, after) = crash_b(Strategy::OneForAll, &["a", "b", "c"]);
    assert_eq!(log, ["start a", "start b", "start c", "stop c", "stop a", "start a", "start b", "start c"]);
    assert!(before.iter().zip(&after).all(|(b, a)| b != a));
}

#[test]
fn rest_for_one_restarts_the_child_and_those_started_after_it() {
    let (log, before, after) = crash_b(Strategy::RestForOne, &["b", "c"]);
    assert_eq!(log, ["start a", "start b", "start c", "stop c", "start b", "start c"]);
    assert_eq!(after[0], before[0]);
    assert_ne!(after[1], before[1]);
    assert_ne!(after[2], before[2]);
}

#[test]
fn one_for_all_removes_temporary_siblings_instead_of_restarting_them() {
    let log = Log::default();
    let children = vec![worker("a", &log), worker("t", &log).restart(Restart::Temporary), worker("b", &log)];
    let ids = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, Flags::new(Strategy::OneForAll).intensity(10), children).await;
                let b = child_pid(&mut cx, sup, "b").await.unwrap();
                crash(&mut cx, b);
                restarted(&mut cx, sup, "b", b).await;
                let children = supervisor::which_children(&mut cx, sup).await.unwrap();
                children.iter().map(|c| c.id.unwrap().name()).collect::<Vec<_>>()
            })
            .unwrap()
    });
    assert_eq!(ids, ["b", "a"], "which_children: most recently started first");
}

#[test]
fn simple_one_for_one_starts_dynamic_children_and_restarts_them_with_their_arguments() {
    let log = Log::default();
    let spec = template(&log);
    let test_log = log.clone();
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup =
                    start(&mut cx, Flags::new(Strategy::SimpleOneForOne).intensity(10), vec![spec]).await;
                let mut children = Vec::new();
                for n in 1..=3 {
                    let started = supervisor::start_dynamic_child(&mut cx, sup, |h| h.int(n)).await;
                    children.push(started.unwrap().pid().unwrap());
                }
                let counts = supervisor::count_children(&mut cx, sup).await.unwrap();
                // supervisor:count_children/1 of a simple_one_for_one supervisor: one spec, the
                // template; its children are counted as workers (`child_adm_simple`).
                assert_eq!(counts, ChildCounts { specs: 1, active: 3, supervisors: 0, workers: 3 });
                let listed = supervisor::which_children(&mut cx, sup).await.unwrap();
                assert!(listed.iter().all(|c| c.id.is_none()));
                // The child started with 2 crashes and comes back with 2.
                crash(&mut cx, children[1]);
                let monitor = cx.monitor(children[1]);
                down(&mut cx, monitor).await;
                loop {
                    let listed = supervisor::which_children(&mut cx, sup).await.unwrap();
                    let running: Vec<Pid> = listed.iter().filter_map(|c| c.child.pid()).collect();
                    if running.len() == 3 && !running.contains(&children[1]) {
                        break;
                    }
                    cx.sleep(Duration::from_millis(1)).await;
                }
                assert_eq!(test_log.with_prefix("start"), ["start 1", "start 2", "start 3", "start 2"]);
                // terminate_child by pid removes a dynamic child.
                supervisor::terminate_child(&mut cx, sup, children[0]).await.unwrap();
                let counts = supervisor::count_children(&mut cx, sup).await.unwrap();
                assert_eq!((counts.specs, counts.active, counts.workers), (1, 2, 2));
                // `child_adm_simple` in supervisor_SUITE: terminating a pid that no longer
                // lives is ok; a live process that is not a child is not found.
                assert_eq!(supervisor::terminate_child(&mut cx, sup, children[0]).await, Ok(()));
                let me = cx.self_pid();
                assert_eq!(
                    supervisor::terminate_child(&mut cx, sup, me).await,
                    Err(supervisor::SupervisorError::NotFound)
                );
            })
            .unwrap()
    });
}

#[test]
fn simple_one_for_one_refuses_static_child_requests() {
    let spec = template(&Log::default());
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                use supervisor::SupervisorError::SimpleOneForOne;
                let sup = start(&mut cx, Flags::new(Strategy::SimpleOneForOne), vec![spec.clone()]).await;
                assert_eq!(supervisor::terminate_child(&mut cx, sup, "template").await, Err(SimpleOneForOne));
                assert_eq!(supervisor::restart_child(&mut cx, sup, "template").await, Err(SimpleOneForOne));
                assert_eq!(supervisor::delete_child(&mut cx, sup, "template").await, Err(SimpleOneForOne));
                assert_eq!(supervisor::start_child(&mut cx, sup, spec).await, Err(SimpleOneForOne));
            })
            .unwrap()
    });
}

#[test]
fn simple_one_for_one_transient_and_temporary_children_are_removed_when_not_restarted() {
    let log = Log::default();
    let transient = template(&log).restart(Restart::Transient);
    let temporary = template(&log).restart(Restart::Temporary);
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                for (spec, ending) in
                    [(transient, ExitReason::Normal), (temporary, ExitReason::atom("crash"))]
                {
                    let sup = start(&mut cx, Flags::new(Strategy::SimpleOneForOne), vec![spec]).await;
                    let child = supervisor::start_dynamic_child(&mut cx, sup, |h| h.int(1)).await.unwrap();
                    let child = child.pid().unwrap();
                    let monitor = cx.monitor(child);
                    cx.send(child, |h| exit_command(h, &ending));
                    down(&mut cx, monitor).await;
                    loop {
                        let counts = supervisor::count_children(&mut cx, sup).await.unwrap();
                        if counts.workers == 0 {
                            break;
                        }
                        cx.sleep(Duration::from_millis(1)).await;
                    }
                }
            })
            .unwrap()
    });
}

/// Ends the only child (with `restart`) with `reason`; returns its state afterwards (after
/// a restart, if there is one) and the number of specs.
fn end_child(restart: Restart, reason: ExitReason) -> (Option<ChildState>, usize) {
    let log = Log::default();
    let spec = worker("w", &log).restart(restart);
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, Flags::new(Strategy::OneForOne).intensity(10), vec![spec]).await;
                let first = child_pid(&mut cx, sup, "w").await.unwrap();
                let monitor = cx.monitor(first);
                cx.send(first, |h| exit_command(h, &reason));
                assert_eq!(down(&mut cx, monitor).await, reason);
                // Let the supervisor handle the exit: a restart shows as a new pid, no
                // restart as a state that stays.
                let mut state = None;
                for _ in 0..50 {
                    let children = supervisor::which_children(&mut cx, sup).await.unwrap();
                    state = children.first().map(|c| c.child);
                    if state != Some(ChildState::Running(first)) {
                        break;
                    }
                    cx.sleep(Duration::from_millis(2)).await;
                }
                let specs = supervisor::count_children(&mut cx, sup).await.unwrap().specs;
                (state, specs)
            })
            .unwrap()
    })
}

fn is_running(state: Option<ChildState>) -> bool {
    matches!(state, Some(ChildState::Running(_)))
}

#[test]
fn permanent_children_are_restarted_after_any_exit() {
    for reason in [ExitReason::Normal, ExitReason::Shutdown, ExitReason::atom("crash")] {
        let (state, specs) = end_child(Restart::Permanent, reason.clone());
        assert!(is_running(state), "{reason}: {state:?}");
        assert_eq!(specs, 1);
    }
}

#[test]
fn transient_children_are_not_restarted_after_normal_or_shutdown() {
    for reason in
        [ExitReason::Normal, ExitReason::Shutdown, ExitReason::shutdown_with(OwnedTerm::atom("done"))]
    {
        assert_eq!(
            end_child(Restart::Transient, reason.clone()),
            (Some(ChildState::Undefined), 1),
            "{reason}"
        );
    }
}

#[test]
fn transient_children_are_restarted_after_a_crash() {
    for reason in [ExitReason::atom("crash"), ExitReason::Kill] {
        let (state, specs) = end_child(Restart::Transient, reason.clone());
        assert!(is_running(state), "{reason}: {state:?}");
        assert_eq!(specs, 1);
    }
}

#[test]
fn temporary_children_are_never_restarted_and_their_spec_is_removed() {
    for reason in [ExitReason::Normal, ExitReason::atom("crash")] {
        assert_eq!(end_child(Restart::Temporary, reason.clone()), (None, 0), "{reason}");
    }
}

/// Crashes child `w` (restarting it) at the given offsets; returns the supervisor's exit
/// reason if it exited, and after how many crashes.
fn crash_at(flags: Flags, offsets_ms: &'static [u64]) -> Option<(usize, ExitReason, ExitReason)> {
    let log = Log::default();
    let children = vec![worker("w", &log), worker("other", &log)];
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let sup = start(&mut cx, flags, children).await;
                let sup_monitor = cx.monitor(sup);
                let other = child_pid(&mut cx, sup, "other").await.unwrap();
                let other_monitor = cx.monitor(other);
                let started = std::time::Instant::now();
                for (n, &at) in offsets_ms.iter().enumerate() {
                    let due = started + Duration::from_millis(at);
                    cx.sleep(due.saturating_duration_since(std::time::Instant::now())).await;
                    let w = child_pid(&mut cx, sup, "w").await.unwrap();
                    let monitor = cx.monitor(w);
                    crash(&mut cx, w);
                    down(&mut cx, monitor).await;
                    // Either it is restarted or the supervisor exits.
                    loop {
                        let Ok(children) = supervisor::which_children(&mut cx, sup).await else {
                            let reason = down(&mut cx, sup_monitor).await;
                            assert_eq!(exit_message_from(&mut cx, sup).await, reason, "the parent's 'EXIT'");
                            return Some((n + 1, reason, down(&mut cx, other_monitor).await));
                        };
                        let now = children.iter().find(|c| c.id.is_some_and(|a| a.name() == "w"));
                        if now.and_then(|c| c.child.pid()).is_some_and(|p| p != w) {
                            break;
                        }
                        cx.sleep(Duration::from_millis(1)).await;
                    }
                }
                None
            })
            .unwrap()
    })
}

#[test]
fn the_default_intensity_allows_one_restart_in_five_seconds() {
    let exited = crash_at(Flags::new(Strategy::OneForOne), &[0, 10]);
    assert_eq!(exited, Some((2, ExitReason::Shutdown, ExitReason::Shutdown)));
}

#[test]
fn intensity_zero_gives_up_at_the_first_exit() {
    let exited = crash_at(Flags::new(Strategy::OneForOne).intensity(0), &[0]);
    assert_eq!(exited, Some((1, ExitReason::Shutdown, ExitReason::Shutdown)));
}

#[test]
fn restarts_older_than_the_period_do_not_count() {
    let flags = Flags::new(Strategy::OneForOne).intensity(2).period(Duration::from_millis(300));
    // Two in the window, then the window passes; two more are allowed, a fifth is not.
    let exited = crash_at(flags, &[0, 10, 400, 410, 420]);
    assert_eq!(exited, Some((5, ExitReason::Shutdown, ExitReason::Shutdown)));
}

/// A worker whose start fails `failures` times (after its first start), then succeeds.
fn flaky(log: &Log, failures: u32) -> ChildSpec {
    let (log, left) = (log.clone(), Arc::new(AtomicU32::new(u32::MAX)));
    let start = start_fn(move |cx, _| {
        let (log, left) = (log.clone(), Arc::clone(&left));
        Box::pin(async move {
            // The first start succeeds and arms the failures.
            let previous = left.load(Ordering::SeqCst);
            if previous == u32::MAX {
                left.store(failures, Ordering::SeqCst);
            } else if previous > 0 {
                left.store(previous - 1, Ordering::SeqCst);
                log.push("start failed");
                return Err(ExitReason::atom("not_now"));
            }
            let pid = spawn_worker(cx, "flaky".to_owned(), &log, OnShutdown::Die).unwrap();
            Ok(Started::Pid(pid))
        })
    });
    ChildSpec::new("flaky", start)
}

#[test]
fn a_failed_restart_is_retried_and_each_retry_counts() {
    let log = Log::default();
    let spec = flaky(&log, 2);
    let test_log = log.clone();
    let state = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, Flags::new(Strategy::OneForOne).intensity(3), vec![spec]).await;
                let first = child_pid(&mut cx, sup, "flaky").await.unwrap();
                crash(&mut cx, first);
                restarted(&mut cx, sup, "flaky", first).await;
                supervisor::which_children(&mut cx, sup).await.unwrap()[0].child
            })
            .unwrap()
    });
    assert!(matches!(state, ChildState::Running(_)));
    assert_eq!(test_log.entries(), ["start flaky", "start failed", "start failed", "start flaky"]);
}

#[test]
fn a_child_that_never_restarts_exhausts_the_intensity() {
    let log = Log::default();
    let spec = flaky(&log, u32::MAX - 1);
    let reason = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let sup = start(&mut cx, Flags::new(Strategy::OneForOne).intensity(5), vec![spec]).await;
                let monitor = cx.monitor(sup);
                let first = child_pid(&mut cx, sup, "flaky").await.unwrap();
                crash(&mut cx, first);
                down(&mut cx, monitor).await
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::Shutdown);
    // The crash and five retries are allowed (six restarts); the sixth retry is not.
    assert_eq!(log.with_prefix("start failed").len(), 5);
}
