%% heaplab_exit: the `exit` workload of heaplab on the real BEAM (see docs/workloads.md): the time
%% a process holding heap_mb MiB takes to die, holding one object vs millions of small ones.
%% Prints one line of JSON with the metrics.
%%
%% Protocol (the Rust version in src/workloads/exit.rs follows the same steps):
%% 1. A process builds heap_mb MiB of live words: one tuple (header + elements), or a list
%%    of small integers (one cons cell per two words); it collects itself (a fullsweep, so
%%    the data sits in one heap) and reports its heap size, then waits. A BEAM tuple has at
%%    most 2^24 - 1 elements (MAX_ARITYVAL, erts/emulator/beam/erl_term.h), 128 MiB: above
%%    that the "one object" is a tuple of as few such tuples as hold the words (2 at
%%    256 MiB), still O(1) objects against millions.
%% 2. The root monitors it, starts the clock, kills it and stops the clock at its 'DOWN':
%%    the exit signal, the teardown and the freeing of the heap.
%% 3. Repeat `repeats` times per kind, alternating which is built first; medians and minima.
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_exit, [{heap_mb, 64}, {repeats, 5}])'
%%        -s init stop

-module(heaplab_exit).
-export([main/1, holder/3]).

%% The most elements of a tuple (MAX_ARITYVAL in erl_term.h).
-define(MAX_ARITY, 16#FFFFFF).

main(Params) ->
    HeapMb = proplists:get_value(heap_mb, Params, 64),
    Repeats = proplists:get_value(repeats, Params, 5),
    Words = HeapMb * 1048576 div 8,
    Trace = heaplab_report:gc_trace_start(),
    %% Step 3.
    Runs = lists:append([order(R, Words) || R <- lists:seq(0, Repeats - 1)]),
    One = [Ns || {one, Ns, _} <- Runs],
    Many = [Ns || {many, Ns, _} <- Runs],
    [HeapOne | _] = [B || {one, _, B} <- Runs],
    [HeapMany | _] = [B || {many, _, B} <- Runs],
    Peak = heaplab_report:vm_kb("VmHWM:") * 1024,
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    heaplab_report:print_json([
        {heap_bytes, HeapOne},
        {heap_bytes_many_objects, HeapMany},
        {many_objects_count, Words div 2},
        {drop_ns_one_object, median(One)},
        {drop_ns_one_object_min, lists:min(One)},
        {drop_ns_many_objects, median(Many)},
        {drop_ns_many_objects_min, lists:min(Many)},
        {drop_ratio, median(Many) / max(1, median(One))},
        {peak_rss_bytes, Peak}
    ] ++ GcMetrics ++ [GcEvents]).

order(R, Words) when R rem 2 =:= 0 -> [exit_one(one, Words), exit_one(many, Words)];
order(_R, Words) -> [exit_one(many, Words), exit_one(one, Words)].

%% Steps 1 and 2 for one process: {Kind, DropNs, HeapBytes}.
exit_one(Kind, Words) ->
    {Pid, Ref} = spawn_monitor(?MODULE, holder, [self(), Kind, Words]),
    HeapBytes = receive
                    {heaplab_built, Pid, Bytes} -> Bytes;
                    {'DOWN', Ref, process, Pid, Reason} -> erlang:error({holder_failed, Kind, Reason})
                end,
    T0 = erlang:monotonic_time(nanosecond),
    exit(Pid, kill),
    receive
        {'DOWN', Ref, process, Pid, _} -> ok
    end,
    T1 = erlang:monotonic_time(nanosecond),
    {Kind, T1 - T0, HeapBytes}.

%% Step 1: the process holding the data.
holder(Root, Kind, Words) ->
    Data = case Kind of
               one -> few_objects(Words);
               many -> lists:seq(1, Words div 2)
           end,
    erlang:garbage_collect(),
    {total_heap_size, HeapWords} = erlang:process_info(self(), total_heap_size),
    Root ! {heaplab_built, self(), HeapWords * erlang:system_info(wordsize)},
    receive
        never -> Data
    end.

%% Step 1: Words words of heap in one tuple, or in as few tuples as the arity limit allows.
few_objects(Words) when Words =< ?MAX_ARITY + 1 ->
    erlang:make_tuple(Words - 1, []);
few_objects(Words) ->
    N = (Words + ?MAX_ARITY) div (?MAX_ARITY + 1),
    Each = (Words - N - 1) div N,
    %% N separate tuples: one made once and referenced N times would be shared.
    list_to_tuple([erlang:make_tuple(Each - 1, []) || _ <- lists:seq(1, N)]).

median(Values) ->
    Sorted = lists:sort(Values),
    N = length(Sorted),
    case N rem 2 of
        1 -> lists:nth(N div 2 + 1, Sorted);
        0 -> (lists:nth(N div 2, Sorted) + lists:nth(N div 2 + 1, Sorted)) / 2
    end.
