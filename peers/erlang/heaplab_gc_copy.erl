%% heaplab_gc_copy: the `gc-copy` workload of heaplab on the real BEAM (see docs/workloads.md): how
%% fast the BEAM's collector copies a process's live data, next to a plain copy of the same
%% bytes in the same run. Prints one line of JSON with the metrics.
%%
%% Protocol (the Rust version in src/workloads/gc_copy.rs follows the same steps):
%% 1. One process builds live_mb MiB of churn entries {I, V, [I, V]} (10 words each, with
%%    the state list's cell).
%% 2. Warm-up, untimed: a fullsweep (and for kind=minor a minor collection, so the state
%%    sits in the old heap).
%% 3. Each of `collections` timed collections: erlang:garbage_collect/2 with {type, major}
%%    (copies all live data) or, for kind=minor, after rewriting the first 10% of the entries
%%    (new tuples holding V+1 on new cells), {type, minor} (copies the young data). The
%%    words copied: the live words (major) or the rewritten words (minor), measured with
%%    erts_debug:flat_size/1.
%% heaplab's version also times a memcpy of the same bytes (memcpy_bytes_per_s) and reports
%% copy_vs_memcpy; this one does not: binary:copy/1, the closest the VM has, allocates a
%% fresh binary per copy (and faults in its pages), so its rate is not memcpy bandwidth and
%% the ratio would not compare like with like. Compare copy_bytes_per_s across columns.
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_gc_copy, [{collections, 20}, {kind, major},
%%        {live_mb, 16}])' -s init stop

-module(heaplab_gc_copy).
-export([main/1]).

-define(WORDS_PER_ENTRY, 10).
-define(REWRITE_PERCENT, 10).

main(Params) ->
    Collections = proplists:get_value(collections, Params, 20),
    Kind = proplists:get_value(kind, Params, major),
    LiveMb = proplists:get_value(live_mb, Params, 16),
    WordSize = erlang:system_info(wordsize),
    Entries = (LiveMb * 1048576 + WordSize * ?WORDS_PER_ENTRY - 1) div (WordSize * ?WORDS_PER_ENTRY),
    Trace = heaplab_report:gc_trace_start(),
    %% Step 1.
    State0 = [{I, 0, [I, 0]} || I <- lists:seq(Entries - 1, 0, -1)],
    %% Step 2.
    erlang:garbage_collect(self(), [{type, major}]),
    Kind =:= minor andalso erlang:garbage_collect(self(), [{type, minor}]),
    LiveWords = erts_debug:flat_size(State0),
    Rewrite = Entries * ?REWRITE_PERCENT div 100,
    %% Step 3.
    {State, Pauses, Copied} = collect(Collections, Kind, Rewrite, State0, [], 0),
    GcNs = lists:sum(Pauses),
    CopiedBytes = Copied * WordSize,
    CopyRate = rate(CopiedBytes, GcNs),
    Peak = heaplab_report:vm_kb("VmHWM:") * 1024,
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    heaplab_report:print_json([
        {live_bytes, LiveWords * WordSize},
        {copied_bytes_per_collection, CopiedBytes / Collections},
        {copy_bytes_per_s, CopyRate},
        {state_entries, length(State)},
        {peak_rss_bytes, Peak}
    ] ++ GcMetrics ++ [GcEvents, heaplab_report:samples([{gc_pause_us, Pauses}])]).

%% Step 3: {State, PausesNs, WordsCopied}.
collect(0, _Kind, _Rewrite, State, Pauses, Copied) ->
    {State, Pauses, Copied};
collect(N, major, Rewrite, State, Pauses, Copied) ->
    Ns = timed([{type, major}]),
    collect(N - 1, major, Rewrite, State, [Ns | Pauses], Copied + erts_debug:flat_size(State));
collect(N, minor, Rewrite, State, Pauses, Copied) ->
    {Prefix, Rest} = lists:split(Rewrite, State),
    New = [{I, V + 1, [I, V + 1]} || {I, V, _} <- Prefix],
    State2 = New ++ Rest,
    Young = erts_debug:flat_size(New) + 2 * length(New),
    Ns = timed([{type, minor}]),
    collect(N - 1, minor, Rewrite, State2, [Ns | Pauses], Copied + Young).

timed(Options) ->
    T0 = erlang:monotonic_time(nanosecond),
    true = erlang:garbage_collect(self(), Options),
    erlang:monotonic_time(nanosecond) - T0.

rate(_Bytes, 0) -> 0;
rate(Bytes, Ns) -> Bytes / (Ns / 1.0e9).
