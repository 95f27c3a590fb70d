%% heaplab_alloc: the `alloc` workload of heaplab on the real BEAM (see docs/workloads.md): one
%% process allocating short-lived lists of tuples in a loop, with a live list it keeps.
%% Prints one line of JSON with the metrics.
%%
%% Protocol (the Rust version in src/workloads/alloc.rs follows the same steps):
%% 1. The process builds its live list (live_words words: live_words / 2 cons cells).
%% 2. The clock starts; each round builds a list of 100 tuples {I, R} (500 words) that dies
%%    at once, and every 16 rounds the head of the live list is replaced; rounds run until
%%    megawords million words are allocated.
%% 3. The clock stops: ns_per_word and words_per_s over the words allocated.
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_alloc, [{live_words, 100000}, {megawords, 200}])'
%%        -s init stop

-module(heaplab_alloc).
-export([main/1]).

-define(ITEMS, 100).
-define(WORDS_PER_ROUND, 500).
-define(KEEP_EVERY, 16).

main(Params) ->
    LiveWords = proplists:get_value(live_words, Params, 100000),
    MegaWords = proplists:get_value(megawords, Params, 200),
    Trace = heaplab_report:gc_trace_start(),
    %% Step 1.
    Live = lists:seq(0, LiveWords div 2 - 1),
    Words = MegaWords * 1000000,
    Rounds = (Words + ?WORDS_PER_ROUND - 1) div ?WORDS_PER_ROUND,
    %% Step 2.
    T0 = erlang:monotonic_time(nanosecond),
    {_, KeptLength} = loop(0, Rounds, Live, []),
    T1 = erlang:monotonic_time(nanosecond),
    %% Step 3.
    Allocated = Rounds * ?WORDS_PER_ROUND,
    Ns = T1 - T0,
    Peak = heaplab_report:vm_kb("VmHWM:") * 1024,
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    heaplab_report:print_json([
        {words_allocated, Allocated},
        {ns_per_word, Ns / Allocated},
        {words_per_s, Allocated / (Ns / 1.0e9)},
        {live_cells, KeptLength},
        {peak_rss_bytes, Peak}
    ] ++ GcMetrics ++ [GcEvents]).

%% Step 2: the rounds. `Last` (the previous round's garbage) is passed on so no round's
%% list can be optimised away.
loop(Rounds, Rounds, Live, Last) ->
    {Last, length(Live)};
loop(R, Rounds, Live, _Last) ->
    Garbage = build(?ITEMS - 1, R, []),
    Live2 = case R rem ?KEEP_EVERY of
                0 -> [R | tl(Live)];
                _ -> Live
            end,
    loop(R + 1, Rounds, Live2, Garbage).

build(-1, _R, Acc) ->
    Acc;
build(I, R, Acc) ->
    build(I - 1, R, [{I, R} | Acc]).
