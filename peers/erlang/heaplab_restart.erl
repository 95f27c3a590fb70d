%% heaplab_restart: the `restart` workload of heaplab on the real BEAM (see docs/workloads.md).
%%
%% A supervisor (one_for_one unless supervisor_strategy says one_for_all) runs one gen_server
%% worker registered under a name and Siblings more workers after it. The calling process
%% crashes the worker and calls the name until a call is answered by the restarted worker:
%% the time from the crash to that answer is one restart latency. The siblings must not be
%% restarted under one_for_one. Prints one line of JSON with the metrics to stdout.
%%
%% Protocol (the Rust version in src/workloads/restart.rs follows the same steps):
%% 1. The crashes are made in batches of SupervisorCrashes: each batch starts a fresh
%%    supervisor (this module's init({sup, N})) with the worker (init(worker)), whose
%%    intensity allows exactly the batch's crashes within an hour, and stops it afterwards
%%    (neither is timed). The supervisor walks its whole restart history at each restart
%%    (add_restart/1 filters a list), so a batch keeps that history as short as a real
%%    supervisor's. Logging is switched off first: heaplab has no logger, and a report per
%%    crash would be timed here only.
%% 2. For each crash: look the worker up by name, start the clock, crash it (kill:
%%    exit(Pid, kill); panic: a `crash` cast its handle_cast answers with
%%    erlang:error(crash)), then call the name with `ping` until the reply comes from a pid
%%    other than the crashed one; a call that exits (noproc, or the dying worker) is retried
%%    at once, after a yield. Stop the clock: one latency sample. Then, untimed, ask the
%%    supervisor for its children and count the siblings whose pid changed since the
%%    previous crash (siblings_restarted).
%% 3. At the end of a batch, untimed, every sibling is called by pid and must answer.
%% 4. A first batch of 100 crashes is not recorded (warm-up).
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_restart, [{crashes, 10000}, {crash, kill},
%%        {supervisor_crashes, 100}, {siblings, 0}, {supervisor_strategy, one_for_one}])'
%%        -s init stop

-module(heaplab_restart).
-export([main/1]).
%% The supervisor and gen_server callbacks of the module (init/1 serves both, by argument).
-export([init/1, handle_call/3, handle_cast/2]).

-define(WORKER, heaplab_restart_worker).
-define(WARM_UP, 100).
-define(CALL_TIMEOUT, 5000).
-define(PERIOD_S, 3600).

main(Params) ->
    Crashes = proplists:get_value(crashes, Params, 10000),
    Crash = proplists:get_value(crash, Params, kill),
    PerSupervisor = proplists:get_value(supervisor_crashes, Params, 100),
    Tree = {proplists:get_value(supervisor_strategy, Params, one_for_one),
            proplists:get_value(siblings, Params, 0)},
    logger:set_primary_config(level, none),
    Trace = heaplab_report:gc_trace_start(),
    {_, _, _} = batch(?WARM_UP, Tree, Crash, {[], 0, 0}),
    {Samples, Calls, Restarted} = batches(Crashes, PerSupervisor, Tree, Crash, {[], 0, 0}),
    N = length(Samples),
    Peak = heaplab_report:vm_kb("VmHWM:") * 1024,
    {Gcs, Reclaimed, _} = erlang:statistics(garbage_collection),
    %% After the peak: unpacking the trace is not part of the run.
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    heaplab_report:print_json([
        {calls_per_restart, Calls / N},
        {restarts, N},
        {siblings_restarted, Restarted},
        {peak_rss_bytes, Peak},
        {beam_gc_count, Gcs},
        {beam_gc_words_reclaimed, Reclaimed}
    ] ++ heaplab_report:percentile_metrics("restart_latency", Samples)
      ++ GcMetrics ++ [GcEvents, heaplab_report:samples([{restart_latency_us, Samples}])]).

%% Step 1: the supervisor, the worker and its siblings.
init({sup, Intensity, {Strategy, Siblings}}) ->
    Flags = #{strategy => Strategy, intensity => Intensity, period => ?PERIOD_S},
    Worker = #{id => worker, start => {gen_server, start_link, [{local, ?WORKER}, ?MODULE, worker, []]}},
    Others = [#{id => {sibling, I}, start => {gen_server, start_link, [?MODULE, worker, []]}}
              || I <- lists:seq(1, Siblings)],
    {ok, {Flags, [Worker | Others]}};
init(worker) ->
    {ok, no_state}.

handle_call(ping, _From, State) ->
    {reply, self(), State}.

handle_cast(crash, _State) ->
    erlang:error(crash).

%% Steps 1 to 3: Left crashes, batch by batch. Acc is {Samples, Calls, SiblingsRestarted}.
batches(0, _PerSupervisor, _Tree, _Crash, Acc) ->
    Acc;
batches(Left, PerSupervisor, Tree, Crash, Acc) ->
    Size = min(Left, PerSupervisor),
    batches(Left - Size, PerSupervisor, Tree, Crash, batch(Size, Tree, Crash, Acc)).

%% One batch under a fresh supervisor, stopped afterwards (a normal exit, which the linked
%% caller ignores).
batch(Size, Tree, Crash, Acc) ->
    {ok, Sup} = supervisor:start_link(?MODULE, {sup, Size, Tree}),
    {_, Count} = Tree,
    {Result, Siblings} = crash_all(Size, {Sup, Count}, Crash, siblings({Sup, Count}), Acc),
    [Pid = gen_server:call(Pid, ping, ?CALL_TIMEOUT) || Pid <- Siblings],
    ok = gen_server:stop(Sup),
    Result.

%% Step 2, Left times: the latencies in microseconds, the calls they took and the siblings
%% restarted; returns them with the siblings' pids at the end.
crash_all(0, _Sup, _Crash, Siblings, Acc) ->
    {Acc, Siblings};
crash_all(Left, Sup, Crash, Siblings, {Samples, Calls, Restarted}) ->
    {Us, Made} = one_crash(Crash),
    Now = siblings(Sup),
    Changed = length([x || {Was, Is} <- lists:zip(Siblings, Now), Was =/= Is]),
    crash_all(Left - 1, Sup, Crash, Now, {[Us | Samples], Calls + Made, Restarted + Changed}).

%% The siblings' pids in id order; no request when there are none.
siblings({_Sup, 0}) ->
    [];
siblings({Sup, _}) ->
    [Pid || {_, Pid} <- lists:sort([{I, Pid} || {{sibling, I}, Pid, worker, _} <- supervisor:which_children(Sup)])].

%% Step 2 once: the latency in nanoseconds and the calls made.
one_crash(Crash) ->
    Old = whereis(?WORKER),
    T0 = erlang:monotonic_time(nanosecond),
    crash(Crash, Old),
    Made = serve_again(Old, 0),
    T1 = erlang:monotonic_time(nanosecond),
    {T1 - T0, Made}.

crash(kill, Pid) ->
    exit(Pid, kill);
crash(panic, Pid) ->
    gen_server:cast(Pid, crash).

%% Step 2: calls the worker's name until a process other than Old answers; returns the
%% number of calls made.
serve_again(Old, Made) ->
    try gen_server:call(?WORKER, ping, ?CALL_TIMEOUT) of
        Old ->
            erlang:yield(),
            serve_again(Old, Made + 1);
        _New ->
            Made + 1
    catch
        exit:{timeout, _} ->
            erlang:error(worker_did_not_come_back);
        exit:_ ->
            erlang:yield(),
            serve_again(Old, Made + 1)
    end.

