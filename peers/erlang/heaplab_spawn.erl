%% heaplab_spawn: the `spawn` workload of heaplab on the real BEAM (see docs/workloads.md).
%%
%% Spawns N processes that each wait in `receive` for one message, measures the spawn time
%% and the memory of the idle processes, then sends each a message and measures the time
%% until all have exited. Prints one line of JSON with the metrics to stdout.
%%
%% Protocol (the Rust version in src/workloads/spawn.rs follows the same steps):
%% 1. Baseline: the process count, erlang:memory(processes), this process's own memory and
%%    the resident set size (VmRSS) of the emulator.
%% 2. Spawn N processes in a loop, timed with erlang:monotonic_time: spawn_ns_per_process.
%% 3. Wait until every spawned process has run up to its `receive` (the run queues are
%%    empty), then measure again. bytes_per_process is the growth of
%%    erlang:memory(processes) per process; rss_bytes_per_process the growth of VmRSS. Both
%%    leave out the growth of this process's own memory (the list of pids it holds).
%% 4. Send each process a message and wait until the process count is back to the
%%    baseline: exit_ns_per_process.
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_spawn, [{processes, 1000000}])' -s init stop

-module(heaplab_spawn).
-export([main/1, idle/0]).

main(Params) ->
    N = proplists:get_value(processes, Params, 1000000),
    %% The spawned processes wait for one message and exit without ever collecting; only
    %% this process is traced, so no spawn pays for inheriting the trace flags. The tracer
    %% starts first: it is one of the baseline processes.
    Trace = heaplab_report:gc_trace_start(self_only),
    Base = erlang:system_info(process_count),
    erlang:garbage_collect(),
    Mem0 = erlang:memory(processes),
    Self0 = self_memory(),
    Rss0 = heaplab_report:vm_kb("VmRSS:") * 1024,

    T0 = erlang:monotonic_time(nanosecond),
    Pids = spawn_all(N, []),
    T1 = erlang:monotonic_time(nanosecond),

    wait_idle(),
    Mem1 = erlang:memory(processes),
    Self1 = self_memory(),
    Rss1 = heaplab_report:vm_kb("VmRSS:") * 1024,
    HeapWords = heap_words(Pids),

    T2 = erlang:monotonic_time(nanosecond),
    lists:foreach(fun(Pid) -> Pid ! stop end, Pids),
    wait_count(Base),
    T3 = erlang:monotonic_time(nanosecond),

    Peak = heaplab_report:vm_kb("VmHWM:") * 1024,
    {Gcs, Reclaimed, _} = erlang:statistics(garbage_collection),
    %% After the peak: unpacking the trace is not part of the run.
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    heaplab_report:print_json([
        {spawn_ns_per_process, (T1 - T0) / N},
        {bytes_per_process, (Mem1 - Mem0 - (Self1 - Self0)) / N},
        {rss_bytes_per_process, (Rss1 - Rss0 - (Self1 - Self0)) / N},
        {heap_words_per_process, HeapWords},
        {exit_ns_per_process, (T3 - T2) / N},
        {peak_rss_bytes, Peak},
        {beam_gc_count, Gcs},
        {beam_gc_words_reclaimed, Reclaimed}
    ] ++ GcMetrics ++ [GcEvents]).

%% The body of every spawned process: wait for one message, then exit.
idle() ->
    receive
        _ -> ok
    end.

spawn_all(0, Acc) ->
    Acc;
spawn_all(N, Acc) ->
    spawn_all(N - 1, [spawn(fun ?MODULE:idle/0) | Acc]).

%% Step 3: yields until no process is waiting to run.
wait_idle() ->
    case erlang:statistics(run_queue) of
        0 ->
            ok;
        _ ->
            erlang:yield(),
            wait_idle()
    end.

%% Step 4: sleeps in 1 ms steps until only the baseline processes are left.
wait_count(Base) ->
    case erlang:system_info(process_count) =< Base of
        true ->
            ok;
        false ->
            receive
            after 1 -> wait_count(Base)
            end
    end.

%% Heap words (young + old, messages included) of the first spawned process.
heap_words([]) ->
    0;
heap_words([Pid | _]) ->
    case erlang:process_info(Pid, total_heap_size) of
        {total_heap_size, Words} -> Words;
        undefined -> 0
    end.

self_memory() ->
    {memory, Bytes} = erlang:process_info(self(), memory),
    Bytes.
