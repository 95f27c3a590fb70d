//! Links, monitors and exit signals: the core rules, one test each.

use heaplab_runtime::heaplab_gc::{OwnedTerm, Pid};
use heaplab_runtime::{ExitReason, Runtime};

fn runtime() -> Runtime {
    crate::common::builder().schedulers(2).build().unwrap()
}

fn tuple_owned(t: heaplab_runtime::heaplab_gc::Term<'_>) -> Option<OwnedTerm> {
    t.as_tuple().map(|_| t.to_owned_term())
}

#[test]
fn linked_panic_kills_non_trapping_parent_with_the_same_reason() {
    let rt = runtime();
    let r = rt.block_on(|mut cx| async move {
        cx.spawn_link(|_cx| async move { panic!("boom") }).unwrap();
        cx.receive(|_, _| Some(())).await;
    });
    assert_eq!(r.unwrap_err(), ExitReason::Panic("boom".into()));
}

#[test]
fn trapping_parent_gets_exit_message() {
    let rt = runtime();
    let (child, msg) = rt
        .block_on(|mut cx| async move {
            cx.trap_exit(true);
            let child =
                cx.spawn_link(|mut cx| async move { cx.exit::<()>(ExitReason::atom("oops")).await }).unwrap();
            let msg = cx.receive(|_, m| tuple_owned(m)).await;
            (child, msg)
        })
        .unwrap();
    let expected =
        OwnedTerm::tuple(vec![OwnedTerm::atom("EXIT"), OwnedTerm::Pid(child), OwnedTerm::atom("oops")]);
    assert_eq!(msg, expected);
}

#[test]
fn normal_exit_of_a_link_is_ignored_unless_trapping() {
    let rt = runtime();
    let r = rt
        .block_on(|mut cx| async move {
            cx.spawn_link(|_cx| async move {}).unwrap();
            cx.receive_timeout(std::time::Duration::from_millis(100), |_, _| Some(())).await
        })
        .unwrap();
    assert_eq!(r, None);
}

#[test]
fn monitor_reports_reason_and_noproc() {
    let rt = runtime();
    let (child, r1, down1, dead, r2, down2) = rt
        .block_on(|mut cx| async move {
            let (child, r1) = cx
                .spawn_monitor(|mut cx| async move { cx.exit::<()>(ExitReason::atom("bye")).await })
                .unwrap();
            let down1 = cx.receive(|_, m| tuple_owned(m)).await;
            let dead = Pid::new(12345);
            let r2 = cx.monitor(dead);
            let down2 = cx.receive(|_, m| tuple_owned(m)).await;
            (child, r1, down1, dead, r2, down2)
        })
        .unwrap();
    let down = |r, p, reason| {
        OwnedTerm::tuple(vec![
            OwnedTerm::atom("DOWN"),
            OwnedTerm::Ref(r),
            OwnedTerm::atom("process"),
            OwnedTerm::Pid(p),
            OwnedTerm::atom(reason),
        ])
    };
    assert_eq!(down1, down(r1, child, "bye"));
    assert_eq!(down2, down(r2, dead, "noproc"));
}

#[test]
fn kill_is_untrappable_and_links_see_killed() {
    let rt = runtime();
    let (victim, msg) = rt
        .block_on(|mut cx| async move {
            cx.trap_exit(true);
            let victim = cx
                .spawn_link(|mut cx| async move {
                    cx.trap_exit(true);
                    loop {
                        cx.receive(|_, _| Some(())).await;
                    }
                })
                .unwrap();
            cx.exit_process(victim, ExitReason::Kill);
            let msg = cx.receive(|_, m| tuple_owned(m)).await;
            (victim, msg)
        })
        .unwrap();
    let expected =
        OwnedTerm::tuple(vec![OwnedTerm::atom("EXIT"), OwnedTerm::Pid(victim), OwnedTerm::atom("killed")]);
    assert_eq!(msg, expected);
}

#[test]
fn demonitor_flush_removes_down() {
    let rt = runtime();
    let got = rt
        .block_on(|mut cx| async move {
            let (_child, r) = cx.spawn_monitor(|_cx| async move {}).unwrap();
            cx.sleep(std::time::Duration::from_millis(50)).await;
            cx.demonitor_flush(r);
            cx.receive_timeout(std::time::Duration::from_millis(50), |_, _| Some(())).await
        })
        .unwrap();
    assert_eq!(got, None);
}
