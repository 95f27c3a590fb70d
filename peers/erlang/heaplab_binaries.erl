%% heaplab_binaries: the `binaries` workload of heaplab on the real BEAM (see docs/workloads.md).
%% Producers send binaries of S bytes through a router process to consumers that keep the
%% last Keep they got, for a sweep of sizes S. Prints one line of JSON with the metrics.
%%
%% Protocol (the Rust version in src/workloads/binaries.rs follows the same steps):
%% 1. The root spawns C consumers, the router (which knows the consumers) and P producers
%%    (which know the router). Each producer holds a template of MaxBytes bytes.
%% 2. The sweep: Sizes sizes, halving from MaxBytes (sizes below one byte are left out),
%%    smallest first. For each size S the root starts the clock and sends producer I
%%    {heaplab_produce, S, N_I} (N_I: Messages div P, plus one if I < Messages rem P).
%% 3. A producer sends the router N_I messages {Self, Bin}, each Bin a new binary of the first
%%    S bytes of its template, with at most 16 unacknowledged: past that it waits for a
%%    heaplab_ack first. Then it waits for its last acks and sends the root
%%    {heaplab_done, Words}, Words being the flat size of what it sent (what a send copies).
%% 4. The router forwards each message it gets, unchanged, to the consumers in turn.
%% 5. A consumer keeps the binary in a list of the last Keep (the binary followed by the
%%    first Keep - 1 of the old list) and acknowledges the message to its producer.
%% 6. The root stops the clock when every producer is done: throughput_<S>b_per_s. After the
%%    sweep it asks the router for the words it copied ({heaplab_report, Root}).
%% 7. Every process of the workload is killed and waited for; binaries_live_at_end is the
%%    number of distinct off-heap binaries any process still references, above the count
%%    before the run, and binary_bytes_live_at_end the growth of erlang:memory(binary).
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_binaries, [{max_bytes, 1048576},
%%        {sizes, 11}, {messages, 10000}, {producers, 2}, {consumers, 2}, {keep, 100}])'
%%        -s init stop

-module(heaplab_binaries).
-export([main/1, producer/3, router/3, consumer/2]).

-define(WINDOW, 16).
-define(WORD_BYTES, 8).
%% A killed process's binaries are freed by the scheduler that allocated them, a little
%% later (delayed deallocation): up to 100 steps of 10 ms for erlang:memory(binary) to settle.
-define(SETTLE_STEPS, 100).
-define(SETTLE_MS, 10).

main(Params) ->
    Consumers = proplists:get_value(consumers, Params, 2),
    Keep = proplists:get_value(keep, Params, 100),
    MaxBytes = proplists:get_value(max_bytes, Params, 1048576),
    Messages = proplists:get_value(messages, Params, 10000),
    Producers = proplists:get_value(producers, Params, 2),
    Sizes = proplists:get_value(sizes, Params, 11),
    Sweep = sweep(MaxBytes, Sizes),
    BinariesBefore = live_binaries(),
    BytesBefore = erlang:memory(binary),
    Trace = heaplab_report:gc_trace_start(),
    {Times, Words} = run(Sweep, Consumers, Keep, MaxBytes, Messages, Producers),
    %% Before step 7, whose erlang:garbage_collect/0 is no pause of the workload's.
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    %% Step 7: the workload's processes are gone; this process drops what it held.
    erlang:garbage_collect(),
    BinariesLeft = settle_count(BinariesBefore, ?SETTLE_STEPS),
    BytesLeft = settle(BytesBefore, ?SETTLE_STEPS),
    AllMessages = Messages * length(Sweep),
    AllNs = lists:sum([Ns || {_, Ns} <- Times]),
    PerSize = [{"throughput_" ++ integer_to_list(S) ++ "b_per_s", Messages / (Ns / 1.0e9)} || {S, Ns} <- Times],
    Peak = heaplab_report:vm_kb("VmHWM:") * 1024,
    {Gcs, Reclaimed, _} = erlang:statistics(garbage_collection),
    heaplab_report:print_json(
        PerSize
        ++ [{throughput_per_s, AllMessages / (AllNs / 1.0e9)},
            {messages, AllMessages},
            {bytes_copied_per_message, Words * ?WORD_BYTES / AllMessages},
            {binaries_live_at_end, BinariesLeft},
            {binary_bytes_live_at_end, BytesLeft},
            {peak_rss_bytes, Peak},
            {beam_gc_count, Gcs},
            {beam_gc_words_reclaimed, Reclaimed}]
        ++ GcMetrics ++ [GcEvents]).

%% Step 2: the sizes, smallest first.
sweep(MaxBytes, Sizes) ->
    lists:usort([MaxBytes bsr H || H <- lists:seq(0, Sizes - 1), MaxBytes bsr H > 0]).

%% Steps 1 to 7 but the count: the time per size and the words copied; every process it
%% spawned is dead when it returns.
run(Sweep, C, Keep, MaxBytes, Messages, P) ->
    Root = self(),
    ConsumerPids = [spawn(?MODULE, consumer, [Keep, []]) || _ <- lists:seq(1, C)],
    Router = spawn(?MODULE, router, [list_to_tuple(ConsumerPids), 1, 0]),
    Template = << <<(I band 255)>> || I <- lists:seq(0, MaxBytes - 1) >>,
    ProducerPids = [spawn(?MODULE, producer, [Root, Router, Template]) || _ <- lists:seq(1, P)],
    Indexed = lists:zip(lists:seq(0, P - 1), ProducerPids),
    Times = [one_size(S, Indexed, Messages, P) || S <- Sweep],
    ProducerWords = lists:sum([W || {_, _, W} <- Times]),
    Router ! {heaplab_report, Root},
    RouterWords = receive
                      N when is_integer(N) -> N
                  end,
    [stop(Pid) || Pid <- [Router | ConsumerPids ++ ProducerPids]],
    {[{S, Ns} || {S, Ns, _} <- Times], ProducerWords + RouterWords}.

%% Steps 2 and 6 for one size.
one_size(S, Indexed, Messages, P) ->
    T0 = erlang:monotonic_time(nanosecond),
    [Pid ! {heaplab_produce, S, quota(Messages, P, I)} || {I, Pid} <- Indexed],
    Words = lists:sum([receive {heaplab_done, W} -> W end || _ <- Indexed]),
    T1 = erlang:monotonic_time(nanosecond),
    {S, T1 - T0, Words}.

quota(R, C, I) when I < R rem C ->
    R div C + 1;
quota(R, C, _I) ->
    R div C.

%% The live binaries above Before once back to Before, or after Steps waits: a killed
%% process's references can outlive its 'DOWN' by a moment.
settle_count(Before, Steps) ->
    case max(0, live_binaries() - Before) of
        Left when Left =:= 0; Steps =:= 0 ->
            Left;
        _ ->
            timer:sleep(?SETTLE_MS),
            erlang:garbage_collect(),
            settle_count(Before, Steps - 1)
    end.

%% The growth of erlang:memory(binary) over Before once it is back to Before, or after Steps
%% waits.
settle(Before, Steps) ->
    case max(0, erlang:memory(binary) - Before) of
        Left when Left =:= 0; Steps =:= 0 ->
            Left;
        _ ->
            timer:sleep(?SETTLE_MS),
            settle(Before, Steps - 1)
    end.

stop(Pid) ->
    Ref = monitor(process, Pid),
    exit(Pid, kill),
    receive
        {'DOWN', Ref, process, Pid, _} -> ok
    end.

%% Distinct off-heap binaries referenced by any process, after every process has collected:
%% an idle system process (the code server loading a module the run called) can otherwise
%% hold dead binaries for good, which would count as binaries the run left behind.
live_binaries() ->
    [erlang:garbage_collect(P) || P <- erlang:processes()],
    Ids = [Id || P <- erlang:processes(),
                 {binary, Bins} <- [erlang:process_info(P, binary)],
                 {Id, _, _} <- Bins],
    length(lists:usort(Ids)).

%% Step 3.
producer(Root, Router, Template) ->
    receive
        {heaplab_produce, S, N} ->
            Words = produce(N, S, Router, Template, 0, 0),
            Root ! {heaplab_done, Words},
            producer(Root, Router, Template)
    end.

produce(0, _S, _Router, _Template, InFlight, Words) ->
    acks(InFlight),
    Words;
produce(N, S, Router, Template, ?WINDOW, Words) ->
    acks(1),
    produce(N, S, Router, Template, ?WINDOW - 1, Words);
produce(N, S, Router, Template, InFlight, Words) ->
    Message = {self(), binary:copy(binary:part(Template, 0, S))},
    Router ! Message,
    produce(N - 1, S, Router, Template, InFlight + 1, Words + erts_debug:flat_size(Message)).

acks(0) ->
    ok;
acks(N) ->
    receive
        heaplab_ack -> acks(N - 1)
    end.

%% Step 4.
router(Consumers, Next, Words) ->
    receive
        {heaplab_report, From} ->
            From ! Words,
            router(Consumers, Next, Words);
        {_, _} = Message ->
            element(Next, Consumers) ! Message,
            router(Consumers, Next rem tuple_size(Consumers) + 1, Words + erts_debug:flat_size(Message))
    end.

%% Step 5.
consumer(Keep, Kept) ->
    receive
        {From, Bin} ->
            Kept1 = lists:sublist([Bin | Kept], Keep),
            From ! heaplab_ack,
            consumer(Keep, Kept1)
    end.
