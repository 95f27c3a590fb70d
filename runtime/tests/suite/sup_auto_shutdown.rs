//! Automatic shutdown, against OTP's `supervisor` ("Automatic Shutdown", OTP 24): with
//! `any_significant` the supervisor stops with `shutdown` when a significant child ends
//! without being restarted; with `all_significant`, when the last such child does; with
//! `never`, or for children that are restarted or that the supervisor stops itself, it
//! runs on (`do_auto_shutdown/2` in supervisor.erl).

use crate::common::guarded;
use crate::sup_support::{
    child_pid, down, exit_command, exit_message_from, runtime, template, worker, worker_with, Log, OnShutdown,
};
use heaplab_runtime::heaplab_gc::Pid;
use heaplab_runtime::supervisor::{self, AutoShutdown, ChildSpec, Flags, Restart, Strategy};
use heaplab_runtime::{Cx, ExitReason};

/// A significant transient worker `id` that logs its shutdown.
fn significant(id: &str, log: &Log) -> ChildSpec {
    worker_with(id, log, OnShutdown::Clean).restart(Restart::Transient).significant(true)
}

/// Ends `child` with `reason` and waits until it is gone.
async fn end(cx: &mut Cx, child: Pid, reason: ExitReason) {
    let monitor = cx.monitor(child);
    cx.send(child, |h| exit_command(h, &reason));
    assert_eq!(down(cx, monitor).await, reason);
}

/// Whether the supervisor `sup` (linked to this process, which traps exits) exited after
/// handling the exit of a child that this process saw end: the child's exit signal reached
/// the supervisor before that child's `'DOWN'` reached this process, so a call made now is
/// answered after the supervisor handled it, or fails because it stopped.
async fn exits(cx: &mut Cx, sup: Pid) -> Option<ExitReason> {
    match supervisor::which_children(cx, sup).await {
        Ok(_) => None,
        Err(_) => Some(exit_message_from(cx, sup).await),
    }
}

/// Under `auto_shutdown`, children `a` (significant), `b` (significant) and `p` (permanent,
/// not significant) start; `ends` names the children that end `normal`, one after the
/// other; returns whether (and why) the supervisor exited after each, and the log.
fn run(auto: AutoShutdown, ends: &'static [&'static str]) -> (Vec<Option<ExitReason>>, Vec<String>) {
    let log = Log::default();
    let children =
        vec![significant("a", &log), significant("b", &log), worker_with("p", &log, OnShutdown::Clean)];
    let outcomes = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let flags = Flags::new(Strategy::OneForOne).auto_shutdown(auto);
                let sup = supervisor::start_link(&mut cx, flags, children).await.unwrap().pid().unwrap();
                let mut outcomes = Vec::new();
                for id in ends {
                    let child = child_pid(&mut cx, sup, id).await.unwrap();
                    end(&mut cx, child, ExitReason::Normal).await;
                    outcomes.push(exits(&mut cx, sup).await);
                }
                outcomes
            })
            .unwrap()
    });
    (outcomes, log.entries())
}

#[test]
fn any_significant_stops_the_supervisor_when_one_significant_child_ends() {
    let (outcomes, log) = run(AutoShutdown::AnySignificant, &["a"]);
    assert_eq!(outcomes, [Some(ExitReason::Shutdown)]);
    // The others stop in reverse start order, as at any supervisor stop.
    assert_eq!(log, ["start a", "start b", "start p", "stop p", "stop b"]);
}

#[test]
fn all_significant_stops_the_supervisor_when_the_last_significant_child_ends() {
    let (outcomes, log) = run(AutoShutdown::AllSignificant, &["a", "b"]);
    assert_eq!(outcomes, [None, Some(ExitReason::Shutdown)]);
    assert_eq!(log, ["start a", "start b", "start p", "stop p"]);
}

#[test]
fn never_keeps_the_supervisor_running() {
    // `never` refuses significant children; its transient children end as usual.
    let log = Log::default();
    let children = vec![worker("t", &log).restart(Restart::Transient)];
    let outcome = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let sup =
                    supervisor::start_link(&mut cx, Flags::default(), children).await.unwrap().pid().unwrap();
                let child = child_pid(&mut cx, sup, "t").await.unwrap();
                end(&mut cx, child, ExitReason::Normal).await;
                exits(&mut cx, sup).await
            })
            .unwrap()
    });
    assert_eq!(outcome, None);
}

/// Only a significant child that is not restarted counts: a transient one that crashes is
/// restarted, one the supervisor terminates itself (terminate_child) does not end anything,
/// and a child that is not significant never counts.
#[test]
fn restarted_terminated_and_insignificant_children_do_not_stop_the_supervisor() {
    let log = Log::default();
    let children =
        vec![significant("a", &log), significant("b", &log), worker("t", &log).restart(Restart::Transient)];
    let outcomes = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let flags =
                    Flags::new(Strategy::OneForOne).intensity(10).auto_shutdown(AutoShutdown::AnySignificant);
                let sup = supervisor::start_link(&mut cx, flags, children).await.unwrap().pid().unwrap();
                let a = child_pid(&mut cx, sup, "a").await.unwrap();
                end(&mut cx, a, ExitReason::atom("crash")).await;
                let crashed = exits(&mut cx, sup).await;
                supervisor::terminate_child(&mut cx, sup, "b").await.unwrap();
                let terminated = exits(&mut cx, sup).await;
                let t = child_pid(&mut cx, sup, "t").await.unwrap();
                end(&mut cx, t, ExitReason::Normal).await;
                let insignificant = exits(&mut cx, sup).await;
                let restarted = child_pid(&mut cx, sup, "a").await;
                (crashed, terminated, insignificant, restarted.is_some_and(|p| p != a))
            })
            .unwrap()
    });
    assert_eq!(outcomes, (None, None, None, true));
}

/// `simple_one_for_one` with a significant temporary template and `all_significant`: the
/// supervisor stops when its last dynamic child has ended.
#[test]
fn all_significant_dynamic_children_stop_the_supervisor_when_the_last_ends() {
    let log = Log::default();
    let spec = template(&log).restart(Restart::Temporary).significant(true);
    let outcomes = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let flags = Flags::new(Strategy::SimpleOneForOne).auto_shutdown(AutoShutdown::AllSignificant);
                let sup = supervisor::start_link(&mut cx, flags, vec![spec]).await.unwrap().pid().unwrap();
                let mut children = Vec::new();
                for n in 0..2 {
                    let started = supervisor::start_dynamic_child(&mut cx, sup, |h| h.int(n)).await;
                    children.push(started.unwrap().pid().unwrap());
                }
                let mut outcomes = Vec::new();
                for child in children {
                    end(&mut cx, child, ExitReason::atom("crash")).await;
                    outcomes.push(exits(&mut cx, sup).await);
                }
                outcomes
            })
            .unwrap()
    });
    assert_eq!(outcomes, [None, Some(ExitReason::Shutdown)]);
}
