%% heaplab_ring: the `ring` workload of heaplab on the real BEAM (see docs/workloads.md).
%%
%% N processes form a ring and pass a token around it M times (N * M hops): the integer K
%% when `payload` is 0, else {K, Payload}, where Payload is a list of `payload` integers
%% built once and forwarded unchanged (the BEAM copies it at every send). With `copies`
%% C > 1 the payload is [L, ..., L], C references to one list L of `payload` integers: a
%% send does not keep the sharing, so every hop copies L C times. Prints one line of JSON
%% with the metrics to stdout.
%%
%% Protocol (the Rust version in src/workloads/ring.rs follows the same steps):
%% 1. The calling process is member 0 of the ring; it spawns the other N - 1 members, the
%%    last one first, each knowing the next member's pid (the last one's next is member 0).
%% 2. K in the token is the number of hops still to make. Member 0 builds the payload,
%%    starts the clock and sends K = N * M - 1 to the next member; every member that
%%    receives K > 0 sends K - 1, with the payload it received, to its next member. After exactly N * M hops member 0 receives 0 and stops the clock.
%% 3. A member other than 0 that receives K < N will not see the token again (the next
%%    value to reach it would be K - N < 0), so it exits after forwarding it: the ring
%%    winds down during the last lap without any extra message.
%% 4. After the clock stops, received_live_words is erts_debug:size/1 of the payload member 0
%%    received last (its words, shared subterms counted once: C copies after a send).
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_ring, [{copies, 1}, {laps, 1000}, {payload, 0}, {processes, 1000}])' -s init stop

-module(heaplab_ring).
-export([main/1, member/2]).

main(Params) ->
    N = proplists:get_value(processes, Params, 1000),
    M = proplists:get_value(laps, Params, 1000),
    P = proplists:get_value(payload, Params, 0),
    C = proplists:get_value(copies, Params, 1),
    %% time_split (heaplab's mutator / send / GC split) needs a runtime that times its
    %% sends; heaplab refuses time_split=on for the BEAM before erl starts.
    off = proplists:get_value(time_split, Params, off),
    Hops = N * M,
    Trace = heaplab_report:gc_trace_start(),
    Next = build(N - 1, self(), N),
    Payload = payload(lists:seq(0, P - 1), C),
    T0 = erlang:monotonic_time(nanosecond),
    Next ! token(Hops - 1, Payload),
    Received = first(Next),
    T1 = erlang:monotonic_time(nanosecond),
    Peak = heaplab_report:vm_kb("VmHWM:") * 1024,
    {Gcs, Reclaimed, _} = erlang:statistics(garbage_collection),
    %% After the peak: unpacking the trace is not part of the run.
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    heaplab_report:print_json([
        {ns_per_hop, (T1 - T0) / Hops},
        {hops, Hops},
        {copied_words_per_hop, copied(P, C)},
        {received_live_words, erts_debug:size(Received)},
        {peak_rss_bytes, Peak},
        {beam_gc_count, Gcs},
        {beam_gc_words_reclaimed, Reclaimed}
    ] ++ GcMetrics ++ [GcEvents]).

%% The token: K alone without a payload.
token(K, []) -> K;
token(K, Payload) -> {K, Payload}.

%% The payload: L itself, or C references to it.
payload([], _C) -> [];
payload(L, 1) -> L;
payload(L, C) -> lists:duplicate(C, L).

%% Words a send of the token copies (the copies of L are not shared after a send).
copied(0, _C) -> 0;
copied(P, 1) -> 2 * P + 3;
copied(P, C) -> 2 * P * C + 2 * C + 3.

%% Step 1: spawns K members in front of Next; returns the first one.
build(0, Next, _N) ->
    Next;
build(K, Next, N) ->
    build(K - 1, spawn(?MODULE, member, [Next, N]), N).

%% Member 0 (step 2): forwards the token until it comes back as 0; returns the payload
%% then received.
first(Next) ->
    receive
        0 ->
            [];
        {0, Payload} ->
            Payload;
        K when is_integer(K) ->
            Next ! K - 1,
            first(Next);
        {K, Payload} when is_integer(K) ->
            Next ! {K - 1, Payload},
            first(Next)
    end.

%% The other members (steps 2 and 3).
member(Next, N) ->
    receive
        Token ->
            {K, Payload} = case Token of
                {K0, P0} -> {K0, P0};
                K0 -> {K0, []}
            end,
            if
                K > 0 -> Next ! token(K - 1, Payload);
                true -> ok
            end,
            if
                K >= N -> member(Next, N);
                true -> ok
            end
    end.
