%% heaplab_large_state: the `large-state` workload of heaplab on the real BEAM (see
%% docs/workloads.md). One process holds a large live state and keeps rewriting part of it, while
%% C clients time small requests to P small servers (the servers and clients of
%% heaplab_churn, compiled beside this module). Prints one line of JSON with the metrics.
%%
%% Protocol (the Rust version in src/workloads/large_state.rs follows the same steps):
%% 1. The root spawns the large process. It builds a state of StateMb MB of entries
%%    {I, V, [I, V]} (80 bytes each), sends the root heaplab_ready, then loops until told to
%%    stop: it rebuilds the first RewriteEntries entries of its state (new tuples holding V+1
%%    on new cons cells, the rest of the list shared). Between steps it looks for
%%    {heaplab_stop, From} without waiting.
%% 2. The root spawns P small servers (churn servers with 10 entries doing 1 rewrite per
%%    request) and waits for their states.
%% 3. The clients run as in heaplab_churn; their latencies are request_latency_*.
%% 4. The root sends the large process {heaplab_stop, Root}; it answers with the steps it
%%    made (state_rewrites).
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_large_state, [{state_mb, 64},
%%        {rewrite_entries, 10000}, {processes, 1000}, {clients, 4}, {requests, 200000}])'
%%        -s init stop

-module(heaplab_large_state).
-export([main/1, large/3]).

-define(ENTRY_BYTES, 80).
-define(SMALL_ENTRIES, 10).
-define(SMALL_REWRITES, 1).

main(Params) ->
    %% attribution (heaplab's tail attribution) needs every request's moments, which this
    %% version does not record; heaplab refuses attribution=on for the BEAM before erl starts.
    off = proplists:get_value(attribution, Params, off),
    C = proplists:get_value(clients, Params, 4),
    P = proplists:get_value(processes, Params, 1000),
    R = proplists:get_value(requests, Params, 200000),
    Rewrite = proplists:get_value(rewrite_entries, Params, 10000),
    StateMb = proplists:get_value(state_mb, Params, 64),
    Entries = (StateMb * 1048576 + ?ENTRY_BYTES - 1) div ?ENTRY_BYTES,
    Root = self(),
    Trace = heaplab_report:gc_trace_start(),
    %% Step 1.
    Large = spawn(?MODULE, large, [Root, Entries, Rewrite]),
    receive
        heaplab_ready -> ok
    end,
    %% Steps 2 and 3.
    Servers = heaplab_churn:spawn_servers(P, ?SMALL_ENTRIES, ?SMALL_REWRITES),
    {Samples, Ns} = heaplab_churn:run_clients(Servers, C, R),
    %% Step 4.
    Large ! {heaplab_stop, Root},
    Rewrites = receive
                   N when is_integer(N) -> N
               end,
    Peak = heaplab_report:vm_kb("VmHWM:") * 1024,
    {Gcs, Reclaimed, _} = erlang:statistics(garbage_collection),
    %% After the peak: unpacking the trace is not part of the run.
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    heaplab_report:print_json(
        [{throughput_per_s, R / (Ns / 1.0e9)},
         {state_bytes, Entries * ?ENTRY_BYTES},
         {state_rewrites, Rewrites}]
        ++ [heaplab_report:samples([{request_latency_us, Samples}])]
        ++ [{peak_rss_bytes, Peak},
            {beam_gc_count, Gcs},
            {beam_gc_words_reclaimed, Reclaimed}]
        ++ GcMetrics ++ [GcEvents]).

%% Step 1: the large process.
large(Root, Entries, Rewrite) ->
    State = heaplab_churn:build(Entries),
    Root ! heaplab_ready,
    large_loop(State, Rewrite, 0).

large_loop(State, Rewrite, Steps) ->
    receive
        {heaplab_stop, From} ->
            From ! Steps
    after 0 ->
        large_loop(rewrite_prefix(State, Rewrite), Rewrite, Steps + 1)
    end.

%% The first N entries replaced by entries holding V+1, on new cons cells; the rest shared.
rewrite_prefix(State, 0) ->
    State;
rewrite_prefix([{I, V, _} | Rest], N) ->
    [{I, V + 1, [I, V + 1]} | rewrite_prefix(Rest, N - 1)];
rewrite_prefix([], _N) ->
    [].
