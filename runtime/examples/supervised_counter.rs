//! A counter service written the way an Erlang/OTP programmer would write it: a
//! `gen_server` registered by name under a supervisor whose `init` callback gives its
//! children, a plain process that speaks with `receive!` patterns, a monitor set by name,
//! and a crash the supervisor repairs.
//!
//! ```text
//! cargo run -p heaplab-runtime --example supervised_counter
//! ```

use std::time::Duration;

use heaplab_runtime::gen_server::{self, CallResult, Caller, CastResult, GenServer};
use heaplab_runtime::heaplab_gc::{Atom, Mu, Pid, Root, Term};
use heaplab_runtime::supervisor::{self, ChildSpec, Flags, Strategy, Supervisor, SupervisorInit};
use heaplab_runtime::{match_term, receive, Cx, ExitReason, Runtime};

/// `{add, N}` adds and replies with the total, `total` replies with it; the cast `crash`
/// makes the server fail.
struct Counter {
    total: i64,
}

/// A request to the counter, read from its term.
enum Request {
    Add(i64),
    Total,
}

fn read<'h>(h: Mu<'h>, request: Term<'h>) -> Option<Request> {
    match_term!(h, request, {
        {add, n: i64} => Request::Add(n),
        total => Request::Total,
    })
}

impl GenServer for Counter {
    async fn handle_call(&mut self, cx: &mut Cx, request: Root, _from: Caller) -> CallResult {
        match cx.with(|h| read(h, h.get(&request))) {
            Some(Request::Add(n)) => self.total += n,
            Some(Request::Total) => {}
            None => return CallResult::reply(|h| h.atom_named("badarg")),
        }
        let total = self.total;
        CallResult::reply(move |h| h.int(total))
    }

    async fn handle_cast(&mut self, cx: &mut Cx, request: Root) -> CastResult {
        let crash = cx.with(|h| match_term!(h, h.get(&request), { crash => () }));
        if crash.is_some() {
            panic!("asked to crash with a total of {}", self.total);
        }
        CastResult::NoReply
    }
}

/// Registered as `echo`, answers `{ping, From}` with `pong` and stops at `stop`; any
/// other message waits in the mailbox.
async fn echo(mut cx: Cx) {
    cx.register(Atom::new("echo")).expect("the name is free");
    loop {
        receive!(cx, {
            {ping, from: Pid} => cx.send(from, |h| h.atom_named("pong")),
            stop => return,
        });
    }
}

/// The application's supervisor: its `init` names the children.
struct App;

impl Supervisor for App {
    async fn init(&mut self, _cx: &mut Cx) -> SupervisorInit {
        let counter = ChildSpec::gen_server_named("counter", Atom::new("counter"), || Counter { total: 0 });
        let echo = ChildSpec::worker("echo", |cx| cx.spawn_link(echo));
        SupervisorInit::Ok(Flags::new(Strategy::OneForOne).intensity(3), vec![counter, echo])
    }
}

async fn add(cx: &mut Cx, n: i64) -> i64 {
    let reply = gen_server::call_with(
        cx,
        "counter",
        |h| h.tuple(&[h.atom_named("add"), h.int(n)]),
        Duration::from_secs(1),
        |h, t| match_term!(h, t, { total: i64 => total }),
    );
    reply.await.ok().flatten().expect("the counter answers with its total")
}

fn main() {
    let rt = Runtime::builder().schedulers(2).report_panics(false).build().expect("a valid configuration");
    rt.block_on(|mut cx| async move {
        let sup = supervisor::start_link_with(&mut cx, App).await.unwrap().pid().unwrap();
        for child in supervisor::which_children(&mut cx, sup).await.unwrap() {
            println!("child {:?} runs as {:?}", child.id.unwrap(), child.child);
        }
        println!("total after +5: {}", add(&mut cx, 5).await);
        println!("total after +10: {}", add(&mut cx, 10).await);

        // Watch the counter by name, then make it crash: the 'DOWN' names it.
        let monitor = cx.monitor_named(Atom::new("counter"));
        gen_server::cast(&mut cx, "counter", |h| h.atom_named("crash"));
        let reason = receive!(cx, {
            {DOWN, ^monitor, process, {name: Atom, _node}, reason: ExitReason} => format!("{name} ended: {reason}"),
        } after Duration::from_secs(5) => "no 'DOWN'".to_owned());
        println!("{reason}");

        // The supervisor started a new counter under the same name, from zero.
        let mut total = None;
        while total.is_none() {
            cx.sleep(Duration::from_millis(1)).await;
            total = gen_server::call(&mut cx, "counter", |h| h.atom_named("total"), Duration::from_secs(1)).await.ok();
        }
        println!("total after the restart: {}", total.unwrap());

        let me = cx.self_pid();
        cx.send_named(Atom::new("echo"), |h| h.tuple(&[h.atom_named("ping"), h.pid(me)])).unwrap();
        let answer = receive!(cx, { pong => "pong" } after Duration::from_secs(1) => "silence");
        println!("echo says {answer}");

        gen_server::stop(&mut cx, sup).await.unwrap();
        println!("supervisor stopped; counter registered: {}", cx.whereis(Atom::new("counter")).is_some());
    })
    .unwrap();
}
