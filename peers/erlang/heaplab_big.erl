%% heaplab_big: the `big` workload of heaplab on the real BEAM (see docs/workloads.md), after
%% bencherl's big: N processes each send a ping to every other process and wait for all the
%% pongs. Prints one line of JSON with the metrics.
%%
%% Protocol (the Rust version in src/workloads/big.rs follows the same steps):
%% 1. The calling process (the root) spawns the N members and sends each the list of all
%%    members; then it starts the clock and sends heaplab_go to every member.
%% 2. Per round, a member sends {heaplab_ping, Self} to every other member, then receives
%%    until it has counted N - 1 heaplab_pong, answering every {heaplab_ping, From} that
%%    arrives meanwhile with heaplab_pong.
%% 3. After its last round a member sends the root heaplab_done and goes on answering pings
%%    (others may still be in their rounds) until the VM stops.
%% 4. The root stops the clock after N heaplab_done: 2 x N x (N - 1) x Rounds messages.
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_big, [{processes, 500}, {rounds, 1}])'
%%        -s init stop

-module(heaplab_big).
-export([main/1, member/2]).

main(Params) ->
    N = proplists:get_value(processes, Params, 500),
    Rounds = proplists:get_value(rounds, Params, 1),
    %% time_split (heaplab's mutator / send / GC split) needs a runtime that times its
    %% sends; heaplab refuses time_split=on for the BEAM before erl starts.
    off = proplists:get_value(time_split, Params, off),
    %% area_gc and area_increment_words choose how heaplab's hybrid heap collects its
    %% message area; the BEAM has no message area, so they change nothing here.
    _ = proplists:get_value(area_gc, Params, stw),
    _ = proplists:get_value(area_increment_words, Params, 8192),
    Root = self(),
    Trace = heaplab_report:gc_trace_start(),
    %% Step 1.
    Members = [spawn(?MODULE, member, [Root, Rounds]) || _ <- lists:seq(1, N)],
    [M ! {heaplab_members, Members} || M <- Members],
    T0 = erlang:monotonic_time(nanosecond),
    [M ! heaplab_go || M <- Members],
    %% Step 4.
    [receive heaplab_done -> ok end || _ <- Members],
    T1 = erlang:monotonic_time(nanosecond),
    Messages = 2 * N * (N - 1) * Rounds,
    Peak = heaplab_report:vm_kb("VmHWM:") * 1024,
    {Gcs, Reclaimed, _} = erlang:statistics(garbage_collection),
    %% After the peak: unpacking the trace is not part of the run.
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    heaplab_report:print_json([
        {messages, Messages},
        {messages_per_s, Messages / ((T1 - T0) / 1.0e9)},
        {peak_rss_bytes, Peak},
        {beam_gc_count, Gcs},
        {beam_gc_words_reclaimed, Reclaimed}
    ] ++ GcMetrics ++ [GcEvents]).

%% Steps 1 to 3: one member.
member(Root, Rounds) ->
    Members = receive
                  {heaplab_members, All} -> All
              end,
    receive
        heaplab_go -> ok
    end,
    Me = self(),
    Others = [M || M <- Members, M =/= Me],
    rounds(Rounds, Me, Others, length(Others)),
    Root ! heaplab_done,
    answer().

rounds(0, _Me, _Others, _Count) ->
    ok;
rounds(Left, Me, Others, Count) ->
    [Other ! {heaplab_ping, Me} || Other <- Others],
    pongs(Count),
    rounds(Left - 1, Me, Others, Count).

%% Step 2: counts Count pongs, answering pings meanwhile.
pongs(0) ->
    ok;
pongs(Count) ->
    receive
        heaplab_pong ->
            pongs(Count - 1);
        {heaplab_ping, From} ->
            From ! heaplab_pong,
            pongs(Count)
    end.

%% Step 3.
answer() ->
    receive
        {heaplab_ping, From} ->
            From ! heaplab_pong,
            answer()
    end.
