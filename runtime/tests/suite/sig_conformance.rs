//! Signals, rule by rule against the BEAM's: the exit reason that links and monitors see
//! for every way a process can end, `exit/2` in all its cases, `unlink`, signal order
//! between a pair of processes, and names released at exit.

use std::time::Duration;

use crate::common::guarded;
use crate::sup_support::{down, drain, exit_message_from, exit_reason_of, runtime};
use heaplab_runtime::heaplab_gc::{Atom, OwnedTerm, Pid};
use heaplab_runtime::{receive, Cx, ExitReason, NoProc};

/// How the process under test ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// Its body returns: `normal`.
    Normal,
    /// Another process calls `exit(Pid, kill)`: `killed`.
    KilledByExit2,
    /// It calls `exit(kill)` itself: `kill`, which links pass on as an ordinary reason.
    ExitKill,
    /// It calls `exit(oops)`.
    OtherAtom,
    /// It calls `exit({shutdown, 1})`.
    OtherTuple,
    /// It panics: `{panic, <<"boom">>}`.
    Panic,
}

impl Ending {
    /// The reason the process ends with.
    fn reason(self) -> ExitReason {
        match self {
            Ending::Normal => ExitReason::Normal,
            Ending::KilledByExit2 => ExitReason::Killed,
            Ending::ExitKill => ExitReason::Kill,
            Ending::OtherAtom => ExitReason::atom("oops"),
            Ending::OtherTuple => ExitReason::shutdown_with(OwnedTerm::Int(1)),
            Ending::Panic => ExitReason::Panic("boom".into()),
        }
    }

    /// The body of the process under test: waits for `go`, then ends this way.
    async fn body(self, mut cx: Cx) {
        receive!(cx, { go => () });
        match self {
            Ending::Normal => {}
            Ending::KilledByExit2 => loop {
                cx.receive(|_, _| Some(())).await;
            },
            Ending::ExitKill | Ending::OtherAtom | Ending::OtherTuple => cx.exit(self.reason()).await,
            Ending::Panic => panic!("boom"),
        }
    }

    /// Makes `pid` end this way.
    fn trigger(self, cx: &mut Cx, pid: Pid) {
        match self {
            Ending::KilledByExit2 => cx.exit_process(pid, ExitReason::Kill),
            _ => cx.send(pid, |h| h.atom_named("go")),
        }
    }
}

/// Who watches the process under test.
#[derive(Clone, Copy, Debug)]
enum Observer {
    /// A linked process that does not trap exits: it dies with the same reason, unless the
    /// reason is `normal`.
    Linked,
    /// A linked process that traps exits: it gets `{'EXIT', Pid, Reason}`.
    LinkedTrapping,
    /// A monitoring process: it gets `{'DOWN', Ref, process, Pid, Reason}`.
    Monitor,
}

/// Whether `pid` answers a ping, having handled every signal sent to it before.
async fn answers(cx: &mut Cx, pid: Pid) -> bool {
    let me = cx.self_pid();
    cx.send(pid, |h| h.tuple(&[h.atom_named("ping"), h.pid(me)]));
    receive!(cx, { pong => true } after Duration::from_secs(2) => false)
}

/// Answers pings for ever.
async fn answer_pings(cx: &mut Cx) -> ! {
    loop {
        receive!(cx, { {ping, from: Pid} => cx.send(from, |h| h.atom_named("pong")) });
    }
}

/// A process that links to a new process under test ending `ending`, hands its pid to
/// `parent`, and then only answers pings.
async fn linked_observer(mut cx: Cx, parent: Pid, ending: Ending) {
    let child = cx.spawn_link(move |cx| ending.body(cx)).unwrap();
    cx.send(parent, |h| h.pid(child));
    answer_pings(&mut cx).await
}

/// What `observer` sees of a process ending `ending`.
fn check(observer: Observer, ending: Ending) {
    let seen = guarded(move || {
        let expected = ending.reason();
        let rt = runtime();
        rt.block_on(move |mut cx| async move {
            let me = cx.self_pid();
            match observer {
                Observer::Linked => {
                    let (watcher, watcher_monitor) =
                        cx.spawn_monitor(move |cx| linked_observer(cx, me, ending)).unwrap();
                    let child = cx.receive(|_, m| m.as_pid()).await;
                    let child_monitor = cx.monitor(child);
                    ending.trigger(&mut cx, child);
                    assert_eq!(down(&mut cx, child_monitor).await, expected);
                    if expected.is_normal() {
                        // The exit signal reached the watcher before this ping did.
                        assert!(answers(&mut cx, watcher).await, "a normal exit killed the linked process");
                        cx.exit_process(watcher, ExitReason::Kill);
                        assert_eq!(down(&mut cx, watcher_monitor).await, ExitReason::Killed);
                        ExitReason::Normal
                    } else {
                        down(&mut cx, watcher_monitor).await
                    }
                }
                Observer::LinkedTrapping => {
                    cx.trap_exit(true);
                    let child = cx.spawn_link(move |cx| ending.body(cx)).unwrap();
                    ending.trigger(&mut cx, child);
                    exit_message_from(&mut cx, child).await
                }
                Observer::Monitor => {
                    let (child, monitor) = cx.spawn_monitor(move |cx| ending.body(cx)).unwrap();
                    ending.trigger(&mut cx, child);
                    down(&mut cx, monitor).await
                }
            }
        })
        .unwrap()
    });
    assert_eq!(seen, ending.reason(), "{observer:?} of a process ending {ending:?}");
}

/// One test per cell of the matrix observer x ending.
macro_rules! matrix {
    ($($name:ident: $observer:ident, $ending:ident;)*) => {
        $(
            #[test]
            fn $name() {
                check(Observer::$observer, Ending::$ending);
            }
        )*
    };
}

matrix! {
    linked_survives_normal: Linked, Normal;
    linked_dies_killed_when_partner_is_killed: Linked, KilledByExit2;
    linked_dies_kill_when_partner_exits_kill: Linked, ExitKill;
    linked_dies_with_an_atom_reason: Linked, OtherAtom;
    linked_dies_with_a_tuple_reason: Linked, OtherTuple;
    linked_dies_with_a_panic_reason: Linked, Panic;
    trapping_gets_exit_normal: LinkedTrapping, Normal;
    trapping_gets_exit_killed: LinkedTrapping, KilledByExit2;
    trapping_gets_exit_kill_from_exit_kill: LinkedTrapping, ExitKill;
    trapping_gets_exit_atom: LinkedTrapping, OtherAtom;
    trapping_gets_exit_tuple: LinkedTrapping, OtherTuple;
    trapping_gets_exit_panic: LinkedTrapping, Panic;
    monitor_gets_down_normal: Monitor, Normal;
    monitor_gets_down_killed: Monitor, KilledByExit2;
    monitor_gets_down_kill: Monitor, ExitKill;
    monitor_gets_down_atom: Monitor, OtherAtom;
    monitor_gets_down_tuple: Monitor, OtherTuple;
    monitor_gets_down_panic: Monitor, Panic;
}

/// A process that waits for ever, answering pings.
async fn idle(mut cx: Cx) {
    answer_pings(&mut cx).await
}

/// As [`idle`], trapping exits and forwarding every `'EXIT'` message to `to`.
async fn trapping_forwarder(mut cx: Cx, to: Pid) {
    cx.trap_exit(true);
    loop {
        let message = cx.receive(|_, m| Some(m.to_owned_term())).await;
        cx.send(to, |h| h.from_owned(&message));
    }
}

fn exit_tuple(from: Pid, reason: &str) -> OwnedTerm {
    OwnedTerm::tuple(vec![OwnedTerm::atom("EXIT"), OwnedTerm::Pid(from), OwnedTerm::atom(reason)])
}

#[test]
fn exit2_normal_to_self_ends_the_process_normally() {
    let reason = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let (_, monitor) = cx
                    .spawn_monitor(|mut cx| async move {
                        let me = cx.self_pid();
                        cx.exit_process(me, ExitReason::Normal);
                        // Never gets past its next await.
                        loop {
                            cx.receive(|_, _| Some(())).await;
                        }
                    })
                    .unwrap();
                down(&mut cx, monitor).await
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::Normal);
}

#[test]
fn exit2_normal_to_self_when_trapping_is_a_message() {
    let (me, message) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                cx.trap_exit(true);
                let me = cx.self_pid();
                cx.exit_process(me, ExitReason::Normal);
                (me, cx.receive(|_, m| Some(m.to_owned_term())).await)
            })
            .unwrap()
    });
    assert_eq!(message, exit_tuple(me, "normal"));
}

#[test]
fn exit2_normal_to_another_process_is_ignored() {
    let alive = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let target = cx.spawn(idle).unwrap();
                cx.exit_process(target, ExitReason::Normal);
                answers(&mut cx, target).await
            })
            .unwrap()
    });
    assert!(alive);
}

#[test]
fn exit2_normal_to_a_trapping_process_is_a_message() {
    let (me, message) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let target = cx.spawn(move |cx| trapping_forwarder(cx, me)).unwrap();
                cx.sleep(Duration::from_millis(20)).await; // it sets trap_exit first
                cx.exit_process(target, ExitReason::Normal);
                (me, cx.receive(|_, m| Some(m.to_owned_term())).await)
            })
            .unwrap()
    });
    assert_eq!(message, exit_tuple(me, "normal"));
}

#[test]
fn exit2_other_reason_ends_a_non_trapping_process_with_it() {
    let reason = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let (target, monitor) = cx.spawn_monitor(idle).unwrap();
                cx.exit_process(target, ExitReason::atom("go_away"));
                down(&mut cx, monitor).await
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::atom("go_away"));
}

#[test]
fn exit2_other_reason_to_a_trapping_process_is_a_message() {
    let (me, message) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let target = cx.spawn(move |cx| trapping_forwarder(cx, me)).unwrap();
                cx.sleep(Duration::from_millis(20)).await;
                cx.exit_process(target, ExitReason::atom("go_away"));
                (me, cx.receive(|_, m| Some(m.to_owned_term())).await)
            })
            .unwrap()
    });
    assert_eq!(message, exit_tuple(me, "go_away"));
}

#[test]
fn exit2_kill_ends_a_trapping_process_with_killed() {
    let reason = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let (target, monitor) = cx.spawn_monitor(move |cx| trapping_forwarder(cx, me)).unwrap();
                cx.sleep(Duration::from_millis(20)).await;
                cx.exit_process(target, ExitReason::Kill);
                down(&mut cx, monitor).await
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::Killed);
}

#[test]
fn unlink_prevents_later_exit_signals() {
    let survived = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let (observer, observer_monitor) = cx
                    .spawn_monitor(|mut cx| async move {
                        let child = cx.spawn_link(|cx| Ending::Panic.body(cx)).unwrap();
                        cx.unlink(child);
                        Ending::Panic.trigger(&mut cx, child);
                        idle(cx).await
                    })
                    .unwrap();
                // The observer answers after its child panicked: the unlink held.
                cx.sleep(Duration::from_millis(50)).await;
                let alive = answers(&mut cx, observer).await;
                cx.exit_process(observer, ExitReason::Kill);
                down(&mut cx, observer_monitor).await;
                alive
            })
            .unwrap()
    });
    assert!(survived);
}

#[test]
fn unlink_leaves_a_trapping_process_without_exit_message() {
    let left = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                cx.trap_exit(true);
                let child = cx.spawn_link(|cx| Ending::OtherAtom.body(cx)).unwrap();
                cx.unlink(child);
                let monitor = cx.monitor(child);
                Ending::OtherAtom.trigger(&mut cx, child);
                assert_eq!(down(&mut cx, monitor).await, ExitReason::atom("oops"));
                drain(&mut cx).await
            })
            .unwrap()
    });
    assert_eq!(left, vec![]);
}

#[test]
fn unlink_by_the_other_side_also_removes_the_link() {
    let survived = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let (observer, monitor) = cx.spawn_monitor(idle).unwrap();
                let child = cx
                    .spawn(move |mut cx| async move {
                        cx.link(observer).unwrap();
                        cx.unlink(observer);
                        cx.send(me, |h| h.atom_named("unlinked"));
                        cx.receive(|_, _| Some(())).await;
                        panic!("after unlink");
                    })
                    .unwrap();
                receive!(cx, { unlinked => () });
                let child_monitor = cx.monitor(child);
                cx.send(child, |h| h.atom_named("go"));
                down(&mut cx, child_monitor).await;
                let alive = answers(&mut cx, observer).await;
                cx.exit_process(observer, ExitReason::Kill);
                down(&mut cx, monitor).await;
                alive
            })
            .unwrap()
    });
    assert!(survived);
}

#[test]
fn linking_to_a_dead_process_is_noproc() {
    let (error, message, dead) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let (dead, monitor) = cx.spawn_monitor(|_| async {}).unwrap();
                down(&mut cx, monitor).await;
                let error = cx.link(dead);
                cx.trap_exit(true);
                cx.link(dead).unwrap();
                let message = cx.receive(|_, m| Some(m.to_owned_term())).await;
                (error, message, dead)
            })
            .unwrap()
    });
    assert_eq!(error, Err(NoProc(dead)));
    assert_eq!(message, exit_tuple(dead, "noproc"));
}

#[test]
fn demonitor_prevents_the_down_message() {
    let left = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let child = cx.spawn(|cx| Ending::OtherAtom.body(cx)).unwrap();
                let dropped = cx.monitor(child);
                let kept = cx.monitor(child);
                assert!(cx.demonitor(dropped));
                Ending::OtherAtom.trigger(&mut cx, child);
                down(&mut cx, kept).await;
                cx.sleep(Duration::from_millis(20)).await;
                drain(&mut cx).await
            })
            .unwrap()
    });
    assert_eq!(left, vec![], "only the kept monitor fired");
}

#[test]
fn every_monitor_fires_once() {
    let reasons = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let child = cx.spawn(|cx| Ending::OtherAtom.body(cx)).unwrap();
                let (first, second) = (cx.monitor(child), cx.monitor(child));
                Ending::OtherAtom.trigger(&mut cx, child);
                let reasons = vec![down(&mut cx, first).await, down(&mut cx, second).await];
                cx.sleep(Duration::from_millis(20)).await;
                assert_eq!(drain(&mut cx).await, vec![]);
                reasons
            })
            .unwrap()
    });
    assert_eq!(reasons, vec![ExitReason::atom("oops"); 2]);
}

/// Messages a process sends before it exits arrive before its exit signal, in order.
#[test]
fn messages_then_exit_signal_arrive_in_order() {
    const MESSAGES: i64 = 200;
    let (child, received) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                cx.trap_exit(true);
                let me = cx.self_pid();
                let child = cx
                    .spawn_link(move |mut cx| async move {
                        for i in 0..MESSAGES {
                            cx.send(me, |h| h.int(i));
                        }
                        cx.exit::<()>(ExitReason::atom("done")).await
                    })
                    .unwrap();
                let mut received = Vec::new();
                loop {
                    let m = cx.receive(|_, m| Some(m.to_owned_term())).await;
                    let last = matches!(&m, OwnedTerm::Tuple(_));
                    received.push(m);
                    if last {
                        break;
                    }
                }
                (child, received)
            })
            .unwrap()
    });
    let mut expected: Vec<OwnedTerm> = (0..MESSAGES).map(OwnedTerm::Int).collect();
    expected.push(exit_tuple(child, "done"));
    assert_eq!(received, expected);
}

/// The same for a monitor: the `'DOWN'` comes after every message the process sent.
#[test]
fn messages_then_down_arrive_in_order() {
    const MESSAGES: i64 = 200;
    let received = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let (_, monitor) = cx
                    .spawn_monitor(move |mut cx| async move {
                        for i in 0..MESSAGES {
                            cx.send(me, |h| h.int(i));
                        }
                        panic!("last");
                    })
                    .unwrap();
                down(&mut cx, monitor).await;
                drain(&mut cx).await
            })
            .unwrap()
    });
    assert_eq!(received, (0..MESSAGES).map(OwnedTerm::Int).collect::<Vec<_>>());
}

/// A registered name is released when its holder exits, whatever the reason, and can be
/// registered again.
#[test]
fn registered_names_are_released_at_exit() {
    for ending in [Ending::Normal, Ending::KilledByExit2, Ending::OtherAtom, Ending::Panic] {
        let (before, after, again) = guarded(move || {
            runtime()
                .block_on(move |mut cx| async move {
                    let name = Atom::new("sig_conformance_registered");
                    let me = cx.self_pid();
                    let (pid, monitor) = cx
                        .spawn_monitor(move |mut cx| async move {
                            cx.register(name).unwrap();
                            cx.send(me, |h| h.atom_named("registered"));
                            ending.body(cx).await
                        })
                        .unwrap();
                    receive!(cx, { registered => () });
                    let before = cx.whereis(name) == Some(pid);
                    ending.trigger(&mut cx, pid);
                    assert_eq!(down(&mut cx, monitor).await, ending.reason());
                    let after = cx.whereis(name);
                    let again = cx.register(name).is_ok() && cx.whereis(name) == Some(me);
                    (before, after, again)
                })
                .unwrap()
        });
        assert!(before, "{ending:?}: not registered");
        assert_eq!(after, None, "{ending:?}: name kept after exit");
        assert!(again, "{ending:?}: name not free again");
    }
}

/// A process killed from outside the runtime (`Runtime::exit`) ends with `killed`.
#[test]
fn exit_from_outside_the_runtime() {
    let reason = guarded(|| {
        let rt = runtime();
        let (tx, rx) = std::sync::mpsc::channel();
        let target = rt.spawn(idle).unwrap();
        rt.on_exit(target, move |_, reason| tx.send(reason.clone()).unwrap());
        rt.exit(target, ExitReason::Kill);
        rx.recv().unwrap()
    });
    assert_eq!(reason, ExitReason::Killed);
}

/// A monitor set on a process that has exited fires at once with `noproc`.
#[test]
fn monitoring_a_dead_process_is_noproc() {
    let reason = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let (dead, monitor) = cx.spawn_monitor(|_| async {}).unwrap();
                down(&mut cx, monitor).await;
                exit_reason_of(&mut cx, dead).await
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::noproc());
}

/// What a process that sends itself an exit signal does next: it sends `after` to
/// `parent`, then tries to spawn and reports the result, then waits for ever.
async fn exit_self_then_send(mut cx: Cx, parent: Pid, reason: ExitReason, trapping: bool) {
    cx.trap_exit(trapping);
    let me = cx.self_pid();
    cx.send(me, |h| h.atom_named("before"));
    cx.exit_process(me, reason);
    cx.send(parent, |h| h.atom_named("after"));
    let spawned = cx.spawn(|_| async {}).is_ok();
    cx.send(parent, |h| h.tuple(&[h.atom_named("spawned"), h.bool(spawned)]));
    let mailbox = drain(&mut cx).await;
    cx.send(parent, |h| h.from_owned(&OwnedTerm::list(mailbox)));
    cx.receive(|_, _| None::<()>).await;
}

/// `exit(self(), Reason)` on a process that does not trap exits: the process ends before
/// `exit/2` returns (erts `bif.c`, `send_exit_signal_bif`: "terminate ourselves before
/// exit/2 return"), with `normal` for `normal` (erlang:exit/2: "unless Pid is the calling
/// process, in which case it exits with reason normal") and `killed` for `kill`, which kills
/// a process that traps exits too (`kill` is untrappable). Nothing it does afterwards is
/// seen: its later send does not leave and it spawns nothing.
#[test]
fn exit2_to_self_takes_effect_before_the_next_expression() {
    for (reason, trapping, expected) in [
        (ExitReason::Normal, false, ExitReason::Normal),
        (ExitReason::Kill, false, ExitReason::Killed),
        (ExitReason::atom("oops"), false, ExitReason::atom("oops")),
        (ExitReason::Kill, true, ExitReason::Killed),
    ] {
        let (seen, left) = guarded(move || {
            let rt = runtime();
            let seen = rt
                .block_on(move |mut cx| async move {
                    let me = cx.self_pid();
                    let (_, monitor) =
                        cx.spawn_monitor(move |cx| exit_self_then_send(cx, me, reason, trapping)).unwrap();
                    let seen = down(&mut cx, monitor).await;
                    (seen, drain(&mut cx).await)
                })
                .unwrap();
            crate::common::assert_drains(&rt, 0);
            seen
        });
        assert_eq!(seen, expected);
        assert_eq!(left, vec![], "a message sent after exit(self(), {expected}) left the process");
    }
}

/// A trapping process that sends itself an exit signal gets `{'EXIT', Self, Reason}`
/// after the messages it sent itself before (signals from one sender arrive in order,
/// Reference Manual, "Processes", signal ordering), and goes on running.
#[test]
fn exit2_to_self_when_trapping_is_a_message_after_earlier_ones() {
    for reason in [ExitReason::Normal, ExitReason::atom("oops")] {
        let exit_reason = reason.clone();
        let (child, received) = guarded(move || {
            runtime()
                .block_on(move |mut cx| async move {
                    let me = cx.self_pid();
                    let child = cx.spawn(move |cx| exit_self_then_send(cx, me, exit_reason, true)).unwrap();
                    let mut received = Vec::new();
                    for _ in 0..3 {
                        received.push(cx.receive(|_, m| Some(m.to_owned_term())).await);
                    }
                    cx.exit_process(child, ExitReason::Kill);
                    (child, received)
                })
                .unwrap()
        });
        let exit = OwnedTerm::tuple(vec![OwnedTerm::atom("EXIT"), OwnedTerm::Pid(child), reason.to_term()]);
        assert_eq!(
            received,
            vec![
                OwnedTerm::atom("after"),
                OwnedTerm::tuple(vec![OwnedTerm::atom("spawned"), OwnedTerm::atom("true")]),
                OwnedTerm::list(vec![OwnedTerm::atom("before"), exit]),
            ]
        );
    }
}
