//! Stopping children (OTP's `shutdown/2` and `terminate_dynamic_children/1`).
//!
//! # Protocol (one child)
//! 1. Monitor the child, then unlink it: from now on its exit arrives as a `'DOWN'` only.
//!    If its `{'EXIT', Child, Reason}` arrived before the unlink, it had exited already:
//!    take that message, wait for the `'DOWN'`, done.
//! 2. `brutal_kill`: `exit(Child, kill)` and wait for the `'DOWN'`.
//! 3. A timeout: `exit(Child, shutdown)` and wait that long for the `'DOWN'`; if it has not
//!    come, `exit(Child, kill)` and wait for it. A child that traps exits can clean up in
//!    that time; one that ignores the signal is killed when it runs out.
//! 4. `infinity`: `exit(Child, shutdown)` and wait for the `'DOWN'` as long as it takes
//!    (a supervisor child stops its own children first).
//!
//! Dynamic children are stopped together: steps 1 and the first signal for each, then one
//! wait for all `'DOWN'`s against one deadline, then `kill` for those left.
//!
//! # Invariants
//! 1. When a shutdown returns, the child has exited and no message about it (`'EXIT'` or
//!    `'DOWN'`) is left in the supervisor's mailbox.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use heaplab_gc::{Pid, Ref};

use crate::context::Cx;
use crate::exit::ExitReason;
use crate::gen_server::protocol;
use crate::gen_server::{await_down, await_down_within};
use crate::pattern::matcher;

use super::spec::Shutdown;

/// Protocol step 1: the monitor, and the reason if the child had exited already.
async fn monitor_child(cx: &mut Cx, child: Pid) -> (Ref, Option<ExitReason>) {
    let monitor = cx.monitor(child);
    cx.unlink(child);
    let exited = cx
        .receive_timeout(
            Duration::ZERO,
            matcher(|_, m| {
                protocol::read_exit(m)
                    .filter(|&(from, _)| from == child)
                    .map(|(_, why)| protocol::reason(why))
            }),
        )
        .await;
    (monitor, exited)
}

/// The first signal of Protocol steps 2 to 4.
fn first_signal(how: Shutdown) -> ExitReason {
    match how {
        Shutdown::BrutalKill => ExitReason::Kill,
        Shutdown::Timeout(_) | Shutdown::Infinity => ExitReason::Shutdown,
    }
}

/// Stops one child; `Err` carries the reason it exited with when that was not the one
/// asked for (`killed` for `brutal_kill`, `shutdown` otherwise).
pub(crate) async fn shutdown(cx: &mut Cx, child: Pid, how: Shutdown) -> Result<(), ExitReason> {
    let (monitor, exited) = monitor_child(cx, child).await;
    if let Some(reason) = exited {
        await_down(cx, monitor).await;
        return Err(reason);
    }
    let expected = match how {
        Shutdown::BrutalKill => ExitReason::Killed,
        _ => ExitReason::Shutdown,
    };
    cx.exit_process(child, first_signal(how));
    let reason = match how {
        Shutdown::BrutalKill | Shutdown::Infinity => await_down(cx, monitor).await,
        Shutdown::Timeout(limit) => match await_down_within(cx, monitor, limit).await {
            Some(reason) => reason,
            None => {
                cx.exit_process(child, ExitReason::Kill);
                await_down(cx, monitor).await
            }
        },
    };
    if reason == expected {
        Ok(())
    } else {
        Err(reason)
    }
}

/// Stops many children at once (dynamic children, whose order is not defined).
pub(crate) async fn shutdown_all(cx: &mut Cx, children: Vec<Pid>, how: Shutdown) {
    let mut waiting: HashMap<Ref, Pid> = HashMap::with_capacity(children.len());
    for child in children {
        let (monitor, exited) = monitor_child(cx, child).await;
        if exited.is_none() {
            cx.exit_process(child, first_signal(how));
        }
        waiting.insert(monitor, child);
    }
    let mut deadline = match how {
        Shutdown::Timeout(limit) => Some(Instant::now() + limit),
        Shutdown::BrutalKill | Shutdown::Infinity => None,
    };
    while !waiting.is_empty() {
        match next_down(cx, &waiting, deadline).await {
            Some(monitor) => {
                waiting.remove(&monitor);
            }
            None => {
                // Out of time: kill the rest and wait for them without a deadline.
                for &child in waiting.values() {
                    cx.exit_process(child, ExitReason::Kill);
                }
                deadline = None;
            }
        }
    }
}

/// The monitor of the next `'DOWN'` among `waiting`, or `None` at the deadline.
async fn next_down(cx: &mut Cx, waiting: &HashMap<Ref, Pid>, deadline: Option<Instant>) -> Option<Ref> {
    let down = matcher(|_, m| {
        let [d, r, ..] = m.as_tuple()? else { return None };
        let monitor = r.as_ref().filter(|r| waiting.contains_key(r))?;
        protocol::is(*d, protocol::atom::down()).then_some(monitor)
    });
    match deadline {
        None => Some(cx.receive(down).await),
        Some(deadline) => cx.receive_timeout(deadline.saturating_duration_since(Instant::now()), down).await,
    }
}
