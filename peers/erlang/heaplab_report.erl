%% Helpers shared by the Erlang versions of the heaplab workloads: running a workload's main
%% with its wall clock, reading the emulator's memory from /proc, returning latency samples,
%% tracing every garbage collection of the workload's processes and printing the one line of
%% JSON that heaplab parses.
%%
%% The line (heaplab's peer protocol, src/peer.rs): an object of metric names to numbers,
%% plus three fields that are not numbers: "gc_events" (below), "samples" (an object of
%% histogram names to arrays of raw values in nanoseconds, so heaplab builds real
%% histograms) and "peer" (the runtime and its versions, and "wall_ns": the time from run/2
%% calling the workload's main to the line, measured in the VM, without VM start,
%% compilation and stop).
%%
%% GC trace protocol (gc_trace_start/0,1 and gc_trace_stop/1):
%% 0. Under `erl -heaplab_gc_trace off` nothing is traced and gc_trace_stop reports only
%%    memory_total_bytes and no events (heaplab's untraced pass).
%% 1. gc_trace_start, called by the workload's root process before it spawns anything,
%%    spawns a tracer process and enables erlang:trace(Self, true, [garbage_collection,
%%    monotonic_timestamp, set_on_spawn, {tracer, Tracer}]): the root and every process it
%%    spawns, transitively, are traced; the VM's own processes and the tracer are not.
%%    gc_trace_start(self_only) leaves out set_on_spawn (spawn's idle processes never collect,
%%    and inheriting the flags would be timed as part of every spawn).
%% 2. The BEAM sends the tracer {trace_ts, Pid, gc_minor_start | gc_major_start, Info, Ts} and
%%    then {trace_ts, Pid, gc_minor_end | gc_major_end, Info, Ts} for each collection. The
%%    tracer pairs them per pid and keeps one record per collection, packed in a binary (its
%%    heap stays small, so its own collections stay cheap): the kind, the pid, the start
%%    relative to gc_trace_start and the duration in nanoseconds, and from Info the words in
%%    use before (heap_size + old_heap_size + mbuf_size at the start: both generations and
%%    the message fragments the collection takes in) and after (heap_size + old_heap_size at
%%    the end), and old_heap_size before and after. It keeps the first ?GC_EVENTS_CAP records
%%    and counts the rest.
%% 3. gc_trace_stop, at the end of the measured part, reads erlang:memory(total), turns the
%%    trace off, waits until every trace message sent so far is delivered
%%    (erlang:trace_delivered/1) and asks the tracer for its records. It returns the metrics
%%    memory_total_bytes (without the tracer's own memory), gc_tracer_bytes,
%%    gc_events_dropped and gc_events_unfinished, and the gc_events field for print_json.
-module(heaplab_report).
-export([run/2, vm_kb/1, print_json/1, samples/1, percentile_metrics/2]).
-export([gc_trace_start/0, gc_trace_start/1, gc_trace_stop/1, gc_tracer/1]).

%% Collections recorded one by one; later ones are only counted (gc_events_dropped).
-define(GC_EVENTS_CAP, 1000000).
%% The bits of a pid's index in the number heaplab prints as <0.Index.Serial>.
-define(PID_INDEX_BITS, 28).

%% A "Name:  value kB" line of /proc/self/status, in kB; 0 where there is none.
vm_kb(Name) ->
    case file:read_file("/proc/self/status") of
        {ok, Status} ->
            Lines = string:split(binary_to_list(Status), "\n", all),
            case [L || L <- Lines, lists:prefix(Name, L)] of
                [Line | _] ->
                    [Value | _] = string:lexemes(string:slice(Line, length(Name)), " \t"),
                    list_to_integer(Value);
                [] ->
                    0
            end;
        _ ->
            0
    end.

%% Runs Module:main(Params) with the wall clock of the "peer" field started: heaplab's
%% command line is `-eval 'heaplab_report:run(Module, Params)'`.
run(Module, Params) ->
    persistent_term:put(heaplab_start, erlang:monotonic_time(nanosecond)),
    Module:main(Params).

%% The "samples" field: [{HistogramName, SamplesNs}], each a list of integer nanoseconds.
samples(Histograms) ->
    {samples, {samples, Histograms}}.

%% The p50 and p99 of samples in nanoseconds as metrics in microseconds, Name_p50_us and
%% Name_p99_us (the workloads whose heaplab version also reports them as metrics).
percentile_metrics(_Name, []) ->
    [];
percentile_metrics(Name, SamplesNs) ->
    Sorted = lists:sort(SamplesNs),
    N = length(Sorted),
    [{Name ++ "_p50_us", percentile(Sorted, N, 0.50) / 1000},
     {Name ++ "_p99_us", percentile(Sorted, N, 0.99) / 1000}].

%% The value at rank ceil(P * N) of a sorted list, as HdrHistogram reports percentiles.
percentile(Sorted, N, P) ->
    Rank = max(1, min(N, ceil(P * N))),
    lists:nth(Rank, Sorted).

%% One line of JSON: an object of metric names to numbers, and the gc_events field of
%% gc_trace_stop/1, an array of [Kind, Pid, StartNs, DurationNs, WordsBefore, WordsAfter,
%% OldWordsBefore, OldWordsAfter] arrays, Kind "minor" or "major".
print_json(Pairs0) ->
    Pairs = Pairs0 ++ [{peer, {peer, peer()}}],
    Fields = [[$", to_list(Key), "\":", value(Value)] || {Key, Value} <- Pairs],
    Line = iolist_to_binary([${, lists:join($,, Fields), "}\n"]),
    ok = io:put_chars(standard_io, Line).

to_list(Key) when is_atom(Key) -> atom_to_list(Key);
to_list(Key) -> Key.

value({gc_events, Events}) ->
    [$[, lists:join($,, [event(E) || E <- Events]), $]];
value({samples, Histograms}) ->
    [${, lists:join($,, [[$", to_list(Name), "\":[", lists:join($,, [integer_to_list(round(V)) || V <- Ns]), $]]
                         || {Name, Ns} <- Histograms]), $}];
value({peer, Fields}) ->
    [${, lists:join($,, [[$", to_list(K), "\":", peer_value(V)] || {K, V} <- Fields]), $}];
value(Value) ->
    number(Value).

event({Kind, Pid, Start, Duration, Before, After, OldBefore, OldAfter}) ->
    [$[, kind_name(Kind), $,,
     lists:join($,, [integer_to_binary(N) || N <- [Pid, Start, Duration, Before, After, OldBefore, OldAfter]]),
     $]].

%% The "peer" field: the runtime, its versions, and the workload's wall time when run/2
%% started it.
peer() ->
    Versions = [{runtime, "beam"},
                {otp_release, erlang:system_info(otp_release)},
                {erts_version, erlang:system_info(version)}],
    case persistent_term:get(heaplab_start, undefined) of
        undefined -> Versions;
        Start -> Versions ++ [{wall_ns, erlang:monotonic_time(nanosecond) - Start}]
    end.

peer_value(V) when is_integer(V) -> integer_to_list(V);
peer_value(V) -> [$", V, $"].

kind_name(0) -> <<"\"minor\"">>;
kind_name(1) -> <<"\"major\"">>.

%% Protocol step 1.
gc_trace_start() ->
    gc_trace_start(tree).

gc_trace_start(Scope) ->
    %% heaplab runs each workload twice, with `-heaplab_gc_trace off` and `on`: tracing
    %% slows the traced processes, so the workload's figures come from the untraced pass.
    case init:get_argument(heaplab_gc_trace) of
        {ok, [["off"] | _]} -> heaplab_gc_trace_off;
        _ -> gc_trace_start_on(Scope)
    end.

gc_trace_start_on(Scope) ->
    Origin = erlang:monotonic_time(),
    Tracer = spawn_opt(?MODULE, gc_tracer, [Origin], [{message_queue_data, off_heap}]),
    Flags = case Scope of
                tree -> [set_on_spawn];
                self_only -> []
            end,
    1 = erlang:trace(self(), true, [garbage_collection, monotonic_timestamp, {tracer, Tracer} | Flags]),
    {heaplab_gc_trace, Tracer}.

%% Protocol step 3: {Metrics, GcEventsField}.
gc_trace_stop(heaplab_gc_trace_off) ->
    {[{memory_total_bytes, erlang:memory(total)}], {gc_events, {gc_events, []}}};
gc_trace_stop({heaplab_gc_trace, Tracer}) ->
    Total = erlang:memory(total),
    erlang:trace(all, false, [garbage_collection]),
    Ref = erlang:trace_delivered(all),
    receive
        {trace_delivered, all, Ref} -> ok
    end,
    {memory, TracerBytes} = erlang:process_info(Tracer, memory),
    Tracer ! {heaplab_gc_trace_stop, self()},
    receive
        {heaplab_gc_trace, Tracer, Packed, Pids, Dropped, Unfinished} ->
            Events = unpack(Packed, Pids, []),
            {[{memory_total_bytes, Total - TracerBytes},
              {gc_tracer_bytes, TracerBytes + byte_size(Packed)},
              {gc_events_dropped, Dropped},
              {gc_events_unfinished, Unfinished}],
             {gc_events, {gc_events, Events}}}
    end.

%% Protocol step 2: the tracer. Its process dictionary holds, per pid, the collection under
%% way ({Kind, StartTs, WordsBefore, OldBefore}) and, under {heaplab_id, Pid}, the index of
%% the pid in Pids (newest first): cheaper per message than maps, so the tracer keeps up.
gc_tracer(Origin) ->
    gc_tracer(Origin, [], 0, <<>>, 0, 0).

gc_tracer(Origin, Pids, NextId, Packed, Kept, Dropped) ->
    receive
        {trace_ts, Pid, gc_minor_start, Info, Ts} ->
            {Young, Old, Mbuf} = sizes(Info),
            put(Pid, {0, Ts, Young + Old + Mbuf, Old}),
            gc_tracer(Origin, Pids, NextId, Packed, Kept, Dropped);
        {trace_ts, Pid, gc_major_start, Info, Ts} ->
            {Young, Old, Mbuf} = sizes(Info),
            put(Pid, {1, Ts, Young + Old + Mbuf, Old}),
            gc_tracer(Origin, Pids, NextId, Packed, Kept, Dropped);
        {trace_ts, Pid, End, Info, Ts} when End =:= gc_minor_end; End =:= gc_major_end ->
            case erase(Pid) of
                undefined ->
                    gc_tracer(Origin, Pids, NextId, Packed, Kept, Dropped);
                _ when Kept >= ?GC_EVENTS_CAP ->
                    gc_tracer(Origin, Pids, NextId, Packed, Kept, Dropped + 1);
                {Kind, StartTs, Before, OldBefore} ->
                    {Id, Pids1, NextId1} =
                        case get({heaplab_id, Pid}) of
                            undefined ->
                                put({heaplab_id, Pid}, NextId),
                                {NextId, [Pid | Pids], NextId + 1};
                            Known ->
                                {Known, Pids, NextId}
                        end,
                    {Young, OldAfter, _} = sizes(Info),
                    Packed1 = <<Packed/binary, Kind:8, Id:32, (StartTs - Origin):64,
                                (Ts - StartTs):64, Before:64, (Young + OldAfter):64, OldBefore:64,
                                OldAfter:64>>,
                    gc_tracer(Origin, Pids1, NextId1, Packed1, Kept + 1, Dropped)
            end;
        {heaplab_gc_trace_stop, From} ->
            Unfinished = length([P || {P, _} <- get(), is_pid(P)]),
            From ! {heaplab_gc_trace, self(), Packed, list_to_tuple(lists:reverse(Pids)), Dropped,
                    Unfinished};
        _ ->
            gc_tracer(Origin, Pids, NextId, Packed, Kept, Dropped)
    end.

%% heap_size, old_heap_size and mbuf_size of a gc_* trace event's Info, matched where
%% OTP 25 puts them, else looked up.
sizes([_, _, _, {mbuf_size, Mbuf}, _, _, {old_heap_size, Old}, {heap_size, Young} | _]) ->
    {Young, Old, Mbuf};
sizes(Info) ->
    {info(heap_size, Info), info(old_heap_size, Info), info(mbuf_size, Info)}.

info(Key, Info) ->
    case lists:keyfind(Key, 1, Info) of
        {Key, Value} -> Value;
        false -> 0
    end.

%% The packed records as tuples, times in nanoseconds, pids as numbers.
unpack(<<>>, _Pids, Acc) ->
    lists:reverse(Acc);
unpack(<<Kind:8, Id:32, Start:64, Duration:64, Before:64, After:64, OldBefore:64, OldAfter:64,
         Rest/binary>>, Pids, Acc) ->
    Event = {Kind, pid_number(element(Id + 1, Pids)), nanos(Start), nanos(Duration), Before, After,
             OldBefore, OldAfter},
    unpack(Rest, Pids, [Event | Acc]).

nanos(Native) ->
    erlang:convert_time_unit(Native, native, nanosecond).

%% <0.Index.Serial> as Index + Serial * 2^28, the number heaplab prints the same way.
pid_number(Pid) ->
    [_Node, Index, Serial] = string:lexemes(pid_to_list(Pid), "<.>"),
    list_to_integer(Index) + (list_to_integer(Serial) bsl ?PID_INDEX_BITS).

number(Value) when is_integer(Value) ->
    integer_to_list(Value);
number(Value) when is_float(Value) ->
    float_to_list(Value, [{decimals, 3}, compact]).
