//! gen_server, rule by rule against OTP's `gen_server`: call, cast, deferred replies and
//! replies from other processes, timeouts and late replies, dead servers, `stop`, and when
//! `terminate` runs.

use std::time::{Duration, Instant};

use crate::common::guarded;
use crate::sup_support::{down, drain, exit_reason_of, runtime, Log};
use heaplab_runtime::gen_server::{
    self, CallError, CallResult, Caller, CastResult, GenServer, Init, Reply, Started, DEFAULT_CALL_TIMEOUT,
};
use heaplab_runtime::heaplab_gc::{Atom, Mu, OwnedTerm, Pid, Root, Term};
use heaplab_runtime::{match_term, receive, Cx, ExitReason};

const SECOND: Duration = Duration::from_secs(1);

/// What `init` does.
#[derive(Clone, Copy, Debug)]
enum InitMode {
    Ok,
    OkTrapping,
    Stop,
    Ignore,
    Panic,
    /// Sleeps this many milliseconds, then `Ok`.
    Slow(u64),
}

/// A test server. Calls: `{echo, X}`, `{sleep, Ms}`, `defer`, `release`, `{delegate, Ms}`,
/// `{stop, Reason}`, `crash`, `get`. Casts: `{add, N}`, `{stop, Reason}`. Everything else is
/// logged by `handle_info`; `terminate` logs its reason.
struct TestServer {
    log: Log,
    init: InitMode,
    deferred: Vec<Caller>,
    count: i64,
}

impl TestServer {
    fn new(log: &Log, init: InitMode) -> TestServer {
        TestServer { log: log.clone(), init, deferred: Vec::new(), count: 0 }
    }
}

/// A request, read from its term.
enum Request {
    Echo(OwnedTerm),
    Sleep(u64),
    Defer,
    Release,
    Delegate(u64),
    Stop(ExitReason),
    Crash,
    Get,
    Add(i64),
    Unknown,
}

fn read_request<'h>(h: Mu<'h>, term: Term<'h>) -> Request {
    match_term!(h, term, {
        defer => Request::Defer,
        release => Request::Release,
        crash => Request::Crash,
        get => Request::Get,
        {echo, value: OwnedTerm} => Request::Echo(value),
        {sleep, ms: u64} => Request::Sleep(ms),
        {delegate, ms: u64} => Request::Delegate(ms),
        {stop, reason: ExitReason} => Request::Stop(reason),
        {add, n: i64} => Request::Add(n),
    })
    .unwrap_or(Request::Unknown)
}

impl GenServer for TestServer {
    async fn init(&mut self, cx: &mut Cx) -> Init {
        self.log.push("init");
        match self.init {
            InitMode::Ok => Init::Ok,
            InitMode::OkTrapping => {
                cx.trap_exit(true);
                Init::Ok
            }
            InitMode::Stop => Init::Stop(ExitReason::atom("no_way")),
            InitMode::Ignore => Init::Ignore,
            InitMode::Panic => panic!("init failed"),
            InitMode::Slow(ms) => {
                cx.sleep(Duration::from_millis(ms)).await;
                self.log.push("init done");
                Init::Ok
            }
        }
    }

    async fn handle_call(&mut self, cx: &mut Cx, request: Root, from: Caller) -> CallResult {
        match cx.with(|h| read_request(h, h.get(&request))) {
            Request::Echo(term) => CallResult::Reply(Reply::owned(term)),
            Request::Sleep(ms) => {
                cx.sleep(Duration::from_millis(ms)).await;
                CallResult::reply(|h| h.atom_named("slept"))
            }
            Request::Defer => {
                self.deferred.push(from);
                CallResult::NoReply
            }
            Request::Release => {
                for caller in self.deferred.drain(..) {
                    gen_server::reply(cx, caller, |h| h.atom_named("released"));
                }
                CallResult::Reply(Reply::ok())
            }
            Request::Delegate(ms) => {
                cx.spawn(move |mut cx| async move {
                    cx.sleep(Duration::from_millis(ms)).await;
                    gen_server::reply(&mut cx, from, |h| h.atom_named("from_helper"));
                })
                .unwrap();
                CallResult::NoReply
            }
            Request::Stop(reason) => {
                CallResult::Stop { reason, reply: Some(Reply::new(|h| h.atom_named("stopping"))) }
            }
            Request::Crash => panic!("crash in handle_call"),
            Request::Get => {
                let n = self.count;
                CallResult::reply(move |h| h.int(n))
            }
            Request::Add(_) | Request::Unknown => CallResult::reply(|h| h.atom_named("unknown")),
        }
    }

    async fn handle_cast(&mut self, cx: &mut Cx, request: Root) -> CastResult {
        match cx.with(|h| read_request(h, h.get(&request))) {
            Request::Add(n) => {
                self.count += n;
                CastResult::NoReply
            }
            Request::Stop(reason) => CastResult::Stop(reason),
            Request::Crash => panic!("crash in handle_cast"),
            _ => CastResult::NoReply,
        }
    }

    async fn handle_info(&mut self, cx: &mut Cx, message: Root) -> CastResult {
        let text = cx.with(|h| h.get(&message).to_string());
        self.log.push(format!("info {text}"));
        CastResult::NoReply
    }

    async fn terminate(&mut self, _cx: &mut Cx, reason: &ExitReason) {
        self.log.push(format!("terminate {reason}"));
    }
}

fn atom(name: &str) -> OwnedTerm {
    OwnedTerm::atom(name)
}

fn tagged<'h>(h: Mu<'h>, tag: &str, value: Term<'h>) -> Term<'h> {
    h.tuple(&[h.atom_named(tag), value])
}

/// `{echo, [1, two]}`.
fn echo_list(h: Mu<'_>) -> Term<'_> {
    let payload = h.list([h.int(1), h.atom_named("two")]);
    tagged(h, "echo", payload)
}

/// `{echo, {20, 22}}`.
fn echo_pair(h: Mu<'_>) -> Term<'_> {
    let payload = h.tuple(&[h.int(20), h.int(22)]);
    tagged(h, "echo", payload)
}

async fn start(cx: &mut Cx, log: &Log) -> Pid {
    let started = gen_server::start_link(cx, TestServer::new(log, InitMode::Ok)).await;
    started.unwrap().pid().unwrap()
}

#[test]
fn call_returns_the_reply() {
    let reply = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server = start(&mut cx, &Log::default()).await;
                gen_server::call(&mut cx, server, echo_list, DEFAULT_CALL_TIMEOUT).await
            })
            .unwrap()
    });
    assert_eq!(reply, Ok(OwnedTerm::list(vec![1.into(), atom("two")])));
}

#[test]
fn call_with_reads_the_reply_in_place() {
    let reply = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server = start(&mut cx, &Log::default()).await;
                gen_server::call_with(&mut cx, server, echo_pair, SECOND, |_, reply| {
                    reply.as_tuple().map(|t| t.iter().filter_map(|x| x.as_int()).sum::<i64>())
                })
                .await
            })
            .unwrap()
    });
    assert_eq!(reply, Ok(Some(42)));
}

#[test]
fn casts_are_handled_in_order_before_a_later_call() {
    let count = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server = start(&mut cx, &Log::default()).await;
                for n in 1..=100 {
                    gen_server::cast(&mut cx, server, |h| tagged(h, "add", h.int(n)));
                }
                gen_server::call(&mut cx, server, |h| h.atom_named("get"), SECOND).await
            })
            .unwrap()
    });
    assert_eq!(count, Ok(OwnedTerm::Int(5050)));
}

#[test]
fn a_cast_to_a_dead_server_or_unknown_name_is_dropped() {
    guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let (dead, monitor) = cx.spawn_monitor(|_| async {}).unwrap();
                down(&mut cx, monitor).await;
                gen_server::cast(&mut cx, dead, |h| h.atom_named("x"));
                gen_server::cast(&mut cx, "nobody_has_this_name", |h| h.atom_named("x"));
            })
            .unwrap()
    });
}

#[test]
fn a_deferred_reply_comes_when_the_server_sends_it() {
    let (deferred, released) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server = start(&mut cx, &Log::default()).await;
                let me = cx.self_pid();
                // A second caller waits on a deferred reply...
                cx.spawn(move |mut cx| async move {
                    let reply =
                        gen_server::call(&mut cx, server, |h| h.atom_named("defer"), 5 * SECOND).await;
                    cx.send(me, |h| tagged(h, "deferred", h.from_owned(&reply.unwrap())));
                })
                .unwrap();
                cx.sleep(Duration::from_millis(50)).await;
                // ...until this call makes the server send it.
                let released = gen_server::call(&mut cx, server, |h| h.atom_named("release"), SECOND).await;
                let deferred = receive!(cx, { {deferred, reply: OwnedTerm} => reply });
                (deferred, released)
            })
            .unwrap()
    });
    assert_eq!(deferred, atom("released"));
    assert_eq!(released, Ok(atom("ok")));
}

#[test]
fn another_process_can_reply() {
    let reply = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server = start(&mut cx, &Log::default()).await;
                gen_server::call(&mut cx, server, |h| tagged(h, "delegate", h.int(10)), SECOND).await
            })
            .unwrap()
    });
    assert_eq!(reply, Ok(atom("from_helper")));
}

#[test]
fn a_caller_term_round_trips() {
    guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let reference = cx.monitor(me);
                let caller = cx.with(|h| {
                    let term = h.tuple(&[h.pid(me), h.reference(reference)]);
                    Caller::from_term(term).unwrap()
                });
                assert_eq!((caller.pid(), caller.tag()), (me, reference));
                let text = cx.with(|h| caller.to_term(h).to_string());
                assert_eq!(text, format!("{{{me},{reference}}}"));
            })
            .unwrap()
    });
}

#[test]
fn a_call_times_out_and_its_late_reply_is_discarded() {
    let (result, waited, left, later) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server = start(&mut cx, &Log::default()).await;
                let started = Instant::now();
                let result = gen_server::call(
                    &mut cx,
                    server,
                    |h| tagged(h, "sleep", h.int(200)),
                    Duration::from_millis(50),
                )
                .await;
                let waited = started.elapsed();
                // The reply comes ~150 ms later and must not reach the mailbox.
                cx.sleep(Duration::from_millis(400)).await;
                cx.deliver_now();
                let left = drain(&mut cx).await;
                // The server is fine and answers the next call.
                let later = gen_server::call(&mut cx, server, |h| tagged(h, "echo", h.int(7)), SECOND).await;
                (result, waited, left, later)
            })
            .unwrap()
    });
    assert_eq!(result, Err(CallError::Timeout));
    assert!(waited >= Duration::from_millis(50) && waited < Duration::from_millis(190), "waited {waited:?}");
    assert_eq!(left, vec![], "the late reply reached the caller");
    assert_eq!(later, Ok(OwnedTerm::Int(7)));
}

#[test]
fn a_call_to_a_dead_server_is_noproc() {
    let (by_pid, by_name) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let (dead, monitor) = cx.spawn_monitor(|_| async {}).unwrap();
                down(&mut cx, monitor).await;
                let by_pid = gen_server::call(&mut cx, dead, |h| h.atom_named("get"), SECOND).await;
                let by_name =
                    gen_server::call(&mut cx, "sup_gen_server_nobody", |h| h.atom_named("get"), SECOND).await;
                assert_eq!(drain(&mut cx).await, vec![], "no 'DOWN' left behind");
                (by_pid, by_name)
            })
            .unwrap()
    });
    assert_eq!(by_pid, Err(CallError::NoProc));
    assert_eq!(by_name, Err(CallError::NoProc));
}

#[test]
fn a_server_dying_during_a_call_gives_its_exit_reason() {
    let (result, reason) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server =
                    gen_server::start(&mut cx, TestServer::new(&Log::default(), InitMode::Ok)).await.unwrap();
                let server = server.pid().unwrap();
                let result = gen_server::call(&mut cx, server, |h| h.atom_named("crash"), SECOND).await;
                let reason = exit_reason_of(&mut cx, server).await;
                (result, reason)
            })
            .unwrap()
    });
    assert_eq!(result, Err(CallError::Exit(ExitReason::Panic("crash in handle_call".into()))));
    assert_eq!(reason, ExitReason::noproc(), "the server had exited when the call returned");
}

#[test]
fn a_process_cannot_call_itself() {
    let result = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                gen_server::call(&mut cx, me, |h| h.atom_named("get"), SECOND).await
            })
            .unwrap()
    });
    assert_eq!(result, Err(CallError::CallingSelf));
}

#[test]
fn stop_runs_terminate_and_the_server_exits_with_the_reason() {
    let log = Log::default();
    let server_log = log.clone();
    let (stopped, reason) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server =
                    gen_server::start(&mut cx, TestServer::new(&server_log, InitMode::Ok)).await.unwrap();
                let server = server.pid().unwrap();
                let monitor = cx.monitor(server);
                let stopped =
                    gen_server::stop_with(&mut cx, server, ExitReason::atom("enough"), SECOND).await;
                (stopped, down(&mut cx, monitor).await)
            })
            .unwrap()
    });
    assert_eq!(stopped, Ok(()));
    assert_eq!(reason, ExitReason::atom("enough"));
    assert_eq!(log.entries(), ["init", "terminate enough"]);
}

#[test]
fn stop_of_a_dead_server_is_noproc() {
    let result = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let (dead, monitor) = cx.spawn_monitor(|_| async {}).unwrap();
                down(&mut cx, monitor).await;
                gen_server::stop_with(&mut cx, dead, ExitReason::Normal, SECOND).await
            })
            .unwrap()
    });
    assert_eq!(result, Err(CallError::NoProc));
}

/// `{stop, Reason, Reply, State}`: `terminate` runs, then the reply is sent, then the exit.
#[test]
fn a_stop_from_handle_call_replies_after_terminate() {
    let log = Log::default();
    let server_log = log.clone();
    let (reply, reason) = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server =
                    gen_server::start(&mut cx, TestServer::new(&server_log, InitMode::Ok)).await.unwrap();
                let server = server.pid().unwrap();
                let monitor = cx.monitor(server);
                let reply =
                    gen_server::call(&mut cx, server, |h| tagged(h, "stop", h.atom_named("done")), SECOND)
                        .await;
                server_log.push("caller got the reply");
                (reply, down(&mut cx, monitor).await)
            })
            .unwrap()
    });
    assert_eq!(reply, Ok(atom("stopping")));
    assert_eq!(reason, ExitReason::atom("done"));
    assert_eq!(log.entries(), ["init", "terminate done", "caller got the reply"]);
}

#[test]
fn a_stop_from_handle_cast_runs_terminate() {
    let log = Log::default();
    let server_log = log.clone();
    let reason = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server =
                    gen_server::start(&mut cx, TestServer::new(&server_log, InitMode::Ok)).await.unwrap();
                let server = server.pid().unwrap();
                let monitor = cx.monitor(server);
                gen_server::cast(&mut cx, server, |h| tagged(h, "stop", h.atom_named("normal")));
                down(&mut cx, monitor).await
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::Normal);
    assert_eq!(log.entries(), ["init", "terminate normal"]);
}

#[test]
fn a_panicking_callback_runs_terminate_then_exits_with_the_panic() {
    let log = Log::default();
    let server_log = log.clone();
    let reason = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server =
                    gen_server::start(&mut cx, TestServer::new(&server_log, InitMode::Ok)).await.unwrap();
                let server = server.pid().unwrap();
                let monitor = cx.monitor(server);
                gen_server::cast(&mut cx, server, |h| h.atom_named("crash"));
                down(&mut cx, monitor).await
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::Panic("crash in handle_cast".into()));
    assert_eq!(log.entries(), ["init", "terminate {panic,\"crash in handle_cast\"}"]);
}

/// Starts a server linked to an intermediate process, which then exits with `bye`.
fn parent_exits(init: InitMode) -> (Log, ExitReason) {
    let log = Log::default();
    let server_log = log.clone();
    let reason = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let me = cx.self_pid();
                let parent = cx
                    .spawn(move |mut cx| async move {
                        let server =
                            gen_server::start_link(&mut cx, TestServer::new(&server_log, init)).await;
                        cx.send(me, |h| h.pid(server.unwrap().pid().unwrap()));
                        cx.receive(|_, _| Some(())).await;
                        cx.exit::<()>(ExitReason::atom("bye")).await
                    })
                    .unwrap();
                let server = cx.receive(|_, m| m.as_pid()).await;
                let monitor = cx.monitor(server);
                cx.send(parent, |h| h.atom_named("go"));
                down(&mut cx, monitor).await
            })
            .unwrap()
    });
    (log, reason)
}

#[test]
fn a_trapping_server_runs_terminate_when_its_parent_exits() {
    let (log, reason) = parent_exits(InitMode::OkTrapping);
    assert_eq!(reason, ExitReason::atom("bye"));
    assert_eq!(log.entries(), ["init", "terminate bye"]);
}

#[test]
fn a_server_that_does_not_trap_exits_dies_with_its_parent_without_terminate() {
    let (log, reason) = parent_exits(InitMode::Ok);
    assert_eq!(reason, ExitReason::atom("bye"));
    assert_eq!(log.entries(), ["init"]);
}

#[test]
fn exit_messages_from_others_go_to_handle_info() {
    let log = Log::default();
    let server_log = log.clone();
    guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let server = gen_server::start(&mut cx, TestServer::new(&server_log, InitMode::OkTrapping))
                    .await
                    .unwrap();
                let server = server.pid().unwrap();
                cx.send(server, |h| h.atom_named("hello"));
                // A process linked to the server exits: not the parent, so it is info.
                let (other, monitor) = cx
                    .spawn_monitor(move |mut cx| async move {
                        cx.link(server).unwrap();
                        cx.exit::<()>(ExitReason::atom("gone")).await
                    })
                    .unwrap();
                down(&mut cx, monitor).await;
                let get = gen_server::call(&mut cx, server, |h| h.atom_named("get"), SECOND).await;
                assert_eq!(get, Ok(OwnedTerm::Int(0)));
                server_log.push(format!("other {other}"));
            })
            .unwrap()
    });
    let entries = log.entries();
    let other = entries.last().unwrap().strip_prefix("other ").unwrap().to_owned();
    assert_eq!(
        entries[..3],
        ["init".to_owned(), "info hello".to_owned(), format!("info {{'EXIT',{other},gone}}")]
    );
}

/// Starts a server with `init` and returns the start result; the starter traps exits, and
/// no message of the start may be left in its mailbox.
fn start_with_init(init: InitMode) -> (Result<Started, ExitReason>, Vec<OwnedTerm>) {
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let result = gen_server::start_link(&mut cx, TestServer::new(&Log::default(), init)).await;
                cx.sleep(Duration::from_millis(20)).await;
                (result, drain(&mut cx).await)
            })
            .unwrap()
    })
}

#[test]
fn init_stop_fails_the_start_with_the_reason() {
    let (result, left) = start_with_init(InitMode::Stop);
    assert_eq!(result, Err(ExitReason::atom("no_way")));
    assert_eq!(left, vec![]);
}

#[test]
fn init_ignore_starts_nothing() {
    let (result, left) = start_with_init(InitMode::Ignore);
    assert_eq!(result, Ok(Started::Ignore));
    assert_eq!(left, vec![]);
}

#[test]
fn a_panic_in_init_fails_the_start_with_the_panic() {
    let (result, left) = start_with_init(InitMode::Panic);
    assert_eq!(result, Err(ExitReason::Panic("init failed".into())));
    assert_eq!(left, vec![]);
}

#[test]
fn a_non_trapping_starter_dies_with_a_failed_init() {
    let reason = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let (starter, monitor) = cx
                    .spawn_monitor(|mut cx| async move {
                        let _ =
                            gen_server::start_link(&mut cx, TestServer::new(&Log::default(), InitMode::Stop))
                                .await;
                        cx.receive(|_, _| Some(())).await;
                    })
                    .unwrap();
                let _ = starter;
                down(&mut cx, monitor).await
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::atom("no_way"));
}

#[test]
fn a_named_server_is_found_by_name_and_its_name_is_released_at_exit() {
    guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let name = Atom::new("sup_gen_server_named");
                let log = Log::default();
                let first = gen_server::start_named(&mut cx, name, TestServer::new(&log, InitMode::Ok)).await;
                let first = first.unwrap().pid().unwrap();
                assert_eq!(cx.whereis(name), Some(first));
                let echo = gen_server::call(&mut cx, name, |h| tagged(h, "echo", h.int(1)), SECOND).await;
                assert_eq!(echo, Ok(OwnedTerm::Int(1)));
                let taken = gen_server::start_named(&mut cx, name, TestServer::new(&log, InitMode::Ok)).await;
                let expected = OwnedTerm::tuple(vec![atom("already_started"), OwnedTerm::Pid(first)]);
                assert_eq!(taken, Err(ExitReason::Other(expected)));
                gen_server::stop(&mut cx, name).await.unwrap();
                assert_eq!(cx.whereis(name), None);
                let second =
                    gen_server::start_named(&mut cx, name, TestServer::new(&log, InitMode::Ok)).await;
                assert_eq!(cx.whereis(name), second.unwrap().pid());
            })
            .unwrap()
    });
}

/// gen_server:start_link/4 with `{timeout, Time}`: "the gen_server process is allowed to
/// spend Time milliseconds initializing or it is terminated and the start function returns
/// `{error,timeout}`". The starter (trapping exits) keeps no message of it, its name is
/// free again, and a fast `init` under the same timeout starts.
#[test]
fn a_start_timeout_kills_a_slow_init_and_fails_with_timeout() {
    use gen_server::StartOptions;
    let log = Log::default();
    let server_log = log.clone();
    let (slow, unlinked, fast, left, named_after) = guarded(move || {
        let rt = runtime();
        let out = rt
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let name = Atom::new("sup_gen_server_slow");
                let options = StartOptions::new().name(name).timeout(Duration::from_millis(50));
                let slow = TestServer::new(&server_log, InitMode::Slow(2_000));
                let slow = gen_server::start_link_opt(&mut cx, slow, options).await;
                let named_after = cx.whereis(name);
                let unlinked = TestServer::new(&server_log, InitMode::Slow(2_000));
                let unlinked = gen_server::start_opt(&mut cx, unlinked, options).await;
                let fast = TestServer::new(&server_log, InitMode::Slow(1));
                let fast = gen_server::start_link_opt(&mut cx, fast, options.timeout(5 * SECOND)).await;
                gen_server::stop(&mut cx, fast.clone().unwrap().pid().unwrap()).await.unwrap();
                cx.sleep(Duration::from_millis(20)).await;
                (slow, unlinked, fast, drain(&mut cx).await, named_after)
            })
            .unwrap();
        crate::common::assert_drains(&rt, 0);
        out
    });
    assert_eq!(slow, Err(ExitReason::atom("timeout")));
    assert_eq!(unlinked, Err(ExitReason::atom("timeout")));
    assert!(matches!(fast, Ok(Started::Pid(_))), "{fast:?}");
    assert_eq!(named_after, None, "the killed server's name was released");
    let fast_exit =
        OwnedTerm::tuple(vec![atom("EXIT"), OwnedTerm::Pid(fast.unwrap().pid().unwrap()), atom("normal")]);
    assert_eq!(left, vec![fast_exit], "only the stopped server's 'EXIT' is left");
    assert_eq!(
        log.entries(),
        ["init", "init", "init", "init done", "terminate normal"],
        "no slow init finished"
    );
}

/// gen_server:stop/1 is `stop(Server, normal, infinity)`: `terminate(normal)` runs and the
/// server exits `normal`. `stop_with` a `{shutdown, Info}` reason hands that reason to
/// `terminate` and to the monitors.
#[test]
fn stop_1_stops_with_normal_and_stop_with_passes_its_reason() {
    let log = Log::default();
    let server_log = log.clone();
    let reasons = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let mut reasons = Vec::new();
                for reason in [None, Some(ExitReason::shutdown_with(atom("done")))] {
                    let server = gen_server::start(&mut cx, TestServer::new(&server_log, InitMode::Ok)).await;
                    let server = server.unwrap().pid().unwrap();
                    let monitor = cx.monitor(server);
                    match reason {
                        None => gen_server::stop(&mut cx, server).await.unwrap(),
                        Some(reason) => gen_server::stop_with(&mut cx, server, reason, SECOND).await.unwrap(),
                    }
                    reasons.push(down(&mut cx, monitor).await);
                }
                reasons
            })
            .unwrap()
    });
    assert_eq!(reasons, [ExitReason::Normal, ExitReason::shutdown_with(atom("done"))]);
    assert_eq!(log.entries(), ["init", "terminate normal", "init", "terminate {shutdown,done}"]);
}
