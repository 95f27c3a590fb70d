//! The registry of process names: `register` (of this process or another), `whereis`,
//! `unregister`, `send_named`, monitors set by name, and names removed when their process
//! exits.

use std::time::Duration;

use crate::common::{assert_drains, atom, guarded, int, runtime};
use heaplab_runtime::heaplab_gc::{Atom, OwnedTerm, Pid, Ref};
use heaplab_runtime::{receive, NotRegistered, RegisterError};

#[test]
fn register_whereis_send_named_unregister() {
    guarded(|| {
        let rt = runtime(2);
        let name = Atom::new("rt_registry_echo");
        let server = rt
            .spawn(move |mut cx| async move {
                cx.register(name).unwrap();
                loop {
                    let (from, n) = cx
                        .receive(|_, m| match m.as_tuple()? {
                            [from, n] => Some((from.as_pid()?, n.as_int()?)),
                            _ => None,
                        })
                        .await;
                    if n < 0 {
                        assert!(cx.unregister(), "the process had a name");
                        assert!(!cx.unregister(), "the name is gone already");
                        cx.send(from, |h| h.atom_named("unregistered"));
                        // Stay alive: the name goes, not the process.
                        cx.receive(atom).await;
                        return;
                    }
                    cx.send(from, |h| h.int(n * 3));
                }
            })
            .unwrap();
        crate::common::wait_until(crate::common::HANG, || rt.whereis("rt_registry_echo").is_some());
        assert_eq!(rt.whereis("rt_registry_echo"), Some(server));
        assert_eq!(rt.stats().registered, 1);
        let (seen, reply, after, err) = rt
            .block_on(move |mut cx| async move {
                let me = cx.self_pid();
                let seen = cx.whereis(name);
                cx.send_named(name, |h| h.tuple(&[h.pid(me), h.int(14)])).unwrap();
                let reply = cx.receive(int).await;
                cx.send_named(name, |h| h.tuple(&[h.pid(me), h.int(-1)])).unwrap();
                assert_eq!(cx.receive(atom).await, "unregistered");
                let after = cx.whereis(name);
                let err = cx.send_named(name, |h| h.int(0)).unwrap_err();
                (seen, reply, after, err)
            })
            .unwrap();
        assert_eq!(seen, Some(server));
        assert_eq!(reply, 42);
        assert_eq!(after, None);
        assert_eq!(err, NotRegistered(name));
        assert_eq!(err.to_string(), "no process is registered as rt_registry_echo");
        assert_eq!(rt.whereis("rt_registry_echo"), None);
        assert_eq!(rt.stats().registered, 0);
        assert!(rt.is_alive(server), "unregistering does not end the process");
        rt.send_owned(server, &OwnedTerm::atom("stop"));
        assert_drains(&rt, 0);
    });
}

/// A taken name is refused with the holder's pid; a process has at most one name; the atom
/// `undefined` cannot be registered.
#[test]
fn registration_errors() {
    let (holder, taken, second, undefined, own_again) = guarded(|| {
        let rt = runtime(1);
        rt.block_on(|mut cx| async move {
            let name = Atom::new("rt_registry_taken");
            let other = Atom::new("rt_registry_other");
            cx.register(name).unwrap();
            let holder = cx.self_pid();
            let me = cx.self_pid();
            cx.spawn(move |mut cx| async move {
                let taken = cx.register(name).unwrap_err();
                let undefined = cx.register(Atom::UNDEFINED).unwrap_err();
                cx.send(me, |h| {
                    h.tuple(&[
                        h.atom_named("taken"),
                        h.pid(match taken {
                            RegisterError::NameTaken(n, p) if n == name => p,
                            other => panic!("unexpected {other:?}"),
                        }),
                    ])
                });
                assert_eq!(undefined, RegisterError::Undefined);
                assert_eq!(undefined.to_string(), "the name 'undefined' cannot be registered");
                cx.send(me, |h| h.atom_named("undefined_refused"));
            })
            .unwrap();
            let taken_by = cx
                .receive(|_, m| match m.as_tuple()? {
                    [_, p] => p.as_pid(),
                    _ => None,
                })
                .await;
            let undefined = cx.receive(atom).await;
            let second = cx.register(other).unwrap_err();
            let own_again = cx.register(name).unwrap_err();
            (holder, taken_by, second, undefined, own_again)
        })
        .unwrap()
    });
    let name = Atom::new("rt_registry_taken");
    assert_eq!(taken, holder);
    assert_eq!(
        RegisterError::NameTaken(name, holder).to_string(),
        format!("name rt_registry_taken is registered by {holder}")
    );
    assert_eq!(second, RegisterError::AlreadyNamed(name));
    assert_eq!(second.to_string(), "process is registered as rt_registry_taken already");
    assert_eq!(own_again, RegisterError::AlreadyNamed(name));
    assert_eq!(undefined, "undefined_refused");
}

/// An exiting process's name is removed: by the time anyone hears of its exit (one
/// scheduler: its last message is handled after its exit), the name is free and another
/// process can take it.
#[test]
fn a_name_is_removed_when_its_process_exits() {
    let (during, after, reused, new_holder, child2) = guarded(|| {
        let rt = runtime(1);
        let out = rt
            .block_on(|mut cx| async move {
                let name = Atom::new("rt_registry_exiting");
                let me = cx.self_pid();
                cx.spawn(move |mut cx| async move {
                    cx.register(name).unwrap();
                    cx.send(me, |h| h.atom_named("registered"));
                    // Wait for the go-ahead, then exit.
                    cx.receive(atom).await;
                    cx.send(me, |h| h.atom_named("exiting"));
                })
                .unwrap();
                assert_eq!(cx.receive(atom).await, "registered");
                let during = cx.whereis(name);
                cx.send_named(name, |h| h.atom_named("go")).unwrap();
                assert_eq!(cx.receive(atom).await, "exiting");
                let after = cx.whereis(name);
                let child2 = cx
                    .spawn(move |mut cx| async move {
                        let r = cx.register(name);
                        cx.send(me, |h| h.bool(r.is_ok()));
                        cx.receive(atom).await;
                    })
                    .unwrap();
                let reused = cx.receive(|_, m| Some(m.as_atom()?.name() == "true")).await;
                let new_holder = cx.whereis(name);
                cx.send(child2, |h| h.atom_named("stop"));
                (during, after, reused, new_holder, child2)
            })
            .unwrap();
        assert_drains(&rt, 0);
        assert_eq!(rt.whereis("rt_registry_exiting"), None);
        assert_eq!(rt.stats().registered, 0);
        out
    });
    assert!(during.is_some());
    assert_eq!(after, None, "the name outlived its process");
    assert!(reused, "the freed name could not be registered again");
    assert_eq!(new_holder, Some(child2));
}

/// Names of processes that panic or are ended by shutdown are removed as well.
#[test]
fn names_of_crashed_processes_are_removed() {
    guarded(|| {
        let rt = crate::common::builder().schedulers(2).report_panics(false).build().unwrap();
        let reason = rt
            .block_on(|mut cx| async move {
                cx.register(Atom::new("rt_registry_crash")).unwrap();
                panic!("crash while registered");
            })
            .unwrap_err();
        assert_eq!(reason, heaplab_runtime::ExitReason::Panic("crash while registered".into()));
        assert_eq!(rt.whereis("rt_registry_crash"), None);
        // Registered and waiting at shutdown.
        rt.spawn(|mut cx| async move {
            cx.register(Atom::new("rt_registry_idle")).unwrap();
            cx.receive(atom).await;
        })
        .unwrap();
        crate::common::wait_until(crate::common::HANG, || rt.whereis("rt_registry_idle").is_some());
        assert_eq!(rt.stats().registered, 1);
        let stats = rt.shutdown();
        assert_eq!(stats.registered, 0);
        assert_eq!(stats.processes, 0);
    });
}

/// Many processes race to register one name: exactly one wins, and every other one is told
/// the winner's pid.
#[test]
fn exactly_one_process_wins_a_race_for_a_name() {
    const RACERS: i64 = 50;
    let (winners, named_holders, whereis) = guarded(|| {
        let rt = runtime(2);
        let out = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let name = Atom::new("rt_registry_race");
                for _ in 0..RACERS {
                    cx.spawn(move |mut cx| async move {
                        let own = cx.self_pid();
                        let result = cx.register(name);
                        let holder = match result {
                            Ok(()) => own,
                            Err(RegisterError::NameTaken(n, holder)) if n == name => holder,
                            Err(e) => panic!("unexpected {e}"),
                        };
                        cx.send(me, |h| h.tuple(&[h.bool(result.is_ok()), h.pid(holder)]));
                        // Keep the name until everyone has answered.
                        cx.receive(atom).await;
                    })
                    .unwrap();
                }
                let mut winners = 0;
                let mut holders = std::collections::HashSet::new();
                for _ in 0..RACERS {
                    let (won, holder) = cx
                        .receive(|_, m| match m.as_tuple()? {
                            [w, p] => Some((w.as_atom()?.name() == "true", p.as_pid()?)),
                            _ => None,
                        })
                        .await;
                    winners += i64::from(won);
                    holders.insert(holder);
                }
                let whereis = cx.whereis(name);
                (winners, holders, whereis)
            })
            .unwrap();
        // The racers still wait; dropping the runtime ends them.
        out
    });
    assert_eq!(winners, 1);
    assert_eq!(named_holders.len(), 1, "racers disagree on the holder: {named_holders:?}");
    assert_eq!(whereis, named_holders.into_iter().next());
}

/// `{'DOWN', Ref, process, {Name, Node}, Reason}` as an owned term.
fn down_by_name(reference: Ref, name: &str, reason: OwnedTerm) -> OwnedTerm {
    let object = OwnedTerm::tuple(vec![OwnedTerm::atom(name), OwnedTerm::atom(heaplab_runtime::NODE)]);
    OwnedTerm::tuple(vec![
        OwnedTerm::atom("DOWN"),
        OwnedTerm::Ref(reference),
        OwnedTerm::atom("process"),
        object,
        reason,
    ])
}

/// erlang:monitor/2 with a registered name: the process holding the name when the monitor
/// is set is monitored, and the `'DOWN'` names it `{RegName, Node}` ("Node will in this
/// case be the name of the local node"); the monitor follows the process, not the name.
#[test]
fn a_monitor_by_name_reports_the_name() {
    let (reference, down, holder_now) = guarded(|| {
        runtime(2)
            .block_on(|mut cx| async move {
                let name = Atom::new("rt_registry_watched");
                let me = cx.self_pid();
                let watched = cx
                    .spawn(move |mut cx| async move {
                        cx.register(name).unwrap();
                        cx.send(me, |h| h.atom_named("registered"));
                        let reason = receive!(cx, { reason: heaplab_runtime::ExitReason => reason });
                        cx.exit::<()>(reason).await
                    })
                    .unwrap();
                assert_eq!(cx.receive(atom).await, "registered");
                let reference = cx.monitor_named(name);
                cx.send(watched, |h| h.atom_named("bye"));
                let down = cx.receive(|_, m| Some(m.to_owned_term())).await;
                (reference, down, cx.whereis(name))
            })
            .unwrap()
    });
    assert_eq!(down, down_by_name(reference, "rt_registry_watched", OwnedTerm::atom("bye")));
    assert_eq!(holder_now, None);
}

/// erlang:monitor/2: monitoring a name nobody holds gives a `'DOWN'` with reason `noproc`
/// at once ("if Item does not exist"), after the messages that arrived before; a dropped
/// by-name monitor sends nothing.
#[test]
fn a_monitor_on_a_free_name_is_noproc_at_once() {
    let (reference, mailbox, demonitored) = guarded(|| {
        runtime(1)
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                cx.send(me, |h| h.atom_named("earlier"));
                let reference = cx.monitor_named(Atom::new("rt_registry_free"));
                let mailbox = vec![
                    cx.receive_timeout(Duration::ZERO, |_, m| Some(m.to_owned_term())).await,
                    cx.receive_timeout(Duration::ZERO, |_, m| Some(m.to_owned_term())).await,
                ];
                let name = Atom::new("rt_registry_dropped");
                let (pid, monitor) = cx
                    .spawn_monitor(move |mut cx| async move {
                        cx.register(name).unwrap();
                        cx.receive(atom).await;
                    })
                    .unwrap();
                while cx.whereis(name).is_none() {
                    cx.sleep(Duration::from_millis(1)).await;
                }
                let by_name = cx.monitor_named(name);
                assert!(cx.demonitor(by_name));
                cx.send(pid, |h| h.atom_named("stop"));
                receive!(cx, { {DOWN, ^monitor, _, _, _} => () });
                cx.sleep(Duration::from_millis(20)).await;
                let left = cx.receive_timeout(Duration::ZERO, |_, m| Some(m.to_owned_term())).await;
                (reference, mailbox, left)
            })
            .unwrap()
    });
    let noproc = down_by_name(reference, "rt_registry_free", OwnedTerm::atom("noproc"));
    assert_eq!(mailbox, vec![Some(OwnedTerm::atom("earlier")), Some(noproc)]);
    assert_eq!(demonitored, None, "a dropped by-name monitor fired");
}

/// erlang:register/2 names another live process; `badarg` cases (a dead process, a process
/// that has a name, a name in use, `undefined`) are errors. The name goes with the process.
#[test]
fn register_pid_names_another_live_process() {
    guarded(|| {
        let rt = runtime(2);
        rt.block_on(|mut cx| async move {
            let name = Atom::new("rt_registry_given");
            let (worker, monitor) = cx
                .spawn_monitor(|mut cx| async move {
                    loop {
                        receive!(cx, {
                            {_, n: i64} if n < 0 => return,
                            {from: Pid, n: i64} => cx.send(from, |h| h.int(n + 1)),
                        });
                    }
                })
                .unwrap();
            cx.register_pid(name, worker).unwrap();
            assert_eq!(cx.whereis(name), Some(worker));
            let me = cx.self_pid();
            cx.send_named(name, |h| h.tuple(&[h.pid(me), h.int(41)])).unwrap();
            assert_eq!(cx.receive(int).await, 42);
            // badarg cases.
            let other = Atom::new("rt_registry_given_other");
            assert_eq!(cx.register_pid(other, worker), Err(RegisterError::AlreadyNamed(name)));
            assert_eq!(cx.register_pid(name, me), Err(RegisterError::NameTaken(name, worker)));
            assert_eq!(cx.register_pid(Atom::UNDEFINED, me), Err(RegisterError::Undefined));
            let (dead, dead_monitor) = cx.spawn_monitor(|_| async {}).unwrap();
            receive!(cx, { {DOWN, ^dead_monitor, _, _, _} => () });
            assert_eq!(cx.register_pid(other, dead), Err(RegisterError::NoProc(dead)));
            assert_eq!(RegisterError::NoProc(dead).to_string(), format!("{dead} is not alive"));
            // The name leaves with its process.
            cx.send(worker, |h| h.tuple(&[h.pid(me), h.int(-1)]));
            receive!(cx, { {DOWN, ^monitor, _, _, _} => () });
            assert_eq!(cx.whereis(name), None);
        })
        .unwrap();
        assert_eq!(rt.stats().registered, 0);
    });
}
