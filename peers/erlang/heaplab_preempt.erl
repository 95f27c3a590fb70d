%% heaplab_preempt: the `preempt` workload of heaplab on the real BEAM (see docs/workloads.md).
%%
%% B busy processes run a tight tail-recursive arithmetic loop (the BEAM preempts them by
%% reductions) while one ping-pong pair makes R round trips; each round trip is timed.
%% Prints one line of JSON with the metrics to stdout.
%%
%% Protocol (the Rust version in src/workloads/preempt.rs follows the same steps):
%% 1. The calling process (the pinger) spawns the ponger, which answers every integer
%%    message with the same integer to the pinger and exits on a negative one.
%% 2. The pinger starts the busy clock and spawns the B busy processes. Busy process I
%%    starts from X = I and repeats X = (X * 1103515245 + 12345) band (2^31 - 1), counting
%%    iterations; every 1024 iterations it checks its mailbox for `stop` without waiting.
%% 3. The pinger makes R round trips: per round trip it reads the clock, sends the ponger
%%    the round trip's index, waits for it to come back and keeps the time.
%% 4. The pinger sends `stop` to the busy processes and -1 to the ponger; each busy process
%%    answers {heaplab_busy_done, Count}. Once all B have, the pinger stops the busy clock:
%%    busy_iterations_per_s is the total count over it.
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_preempt, [{busy, 8}, {pings, 10000}])' -s init stop

-module(heaplab_preempt).
-export([main/1]).

main(Params) ->
    B = proplists:get_value(busy, Params, 8),
    R = proplists:get_value(pings, Params, 10000),
    Self = self(),
    Trace = heaplab_report:gc_trace_start(),
    %% Step 1.
    Ponger = spawn(fun() -> pong(Self) end),
    %% Step 2.
    BusyStart = erlang:monotonic_time(nanosecond),
    Busy = [spawn(fun() -> spin(Self, I, 0) end) || I <- lists:seq(0, B - 1)],
    %% Step 3.
    Samples = ping(Ponger, 0, R, []),
    %% Step 4.
    [Pid ! stop || Pid <- Busy],
    Ponger ! -1,
    Iterations = lists:sum([receive {heaplab_busy_done, N} -> N end || _ <- Busy]),
    BusyS = (erlang:monotonic_time(nanosecond) - BusyStart) / 1.0e9,
    PerS = case B of
        0 -> 0;
        _ -> Iterations / BusyS
    end,
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    heaplab_report:print_json(
        [{round_trips, R}, {busy_iterations_per_s, PerS}]
        ++ heaplab_report:percentile_metrics("round_trip", Samples)
        ++ GcMetrics ++ [GcEvents, heaplab_report:samples([{round_trip_us, Samples}])]
    ).

%% The ponger (step 1).
pong(Pinger) ->
    receive
        K when is_integer(K), K >= 0 ->
            Pinger ! K,
            pong(Pinger);
        K when is_integer(K) ->
            ok
    end.

%% Step 3: the round trips, their times in nanoseconds.
ping(_Ponger, R, R, Samples) ->
    Samples;
ping(Ponger, I, R, Samples) ->
    T0 = erlang:monotonic_time(nanosecond),
    Ponger ! I,
    receive
        I -> ok
    end,
    T1 = erlang:monotonic_time(nanosecond),
    ping(Ponger, I + 1, R, [T1 - T0 | Samples]).

%% A busy process (steps 2 and 4): N iterations so far.
spin(Parent, X, N) when N band 1023 =:= 0 ->
    receive
        stop ->
            Parent ! {heaplab_busy_done, N}
    after 0 ->
        spin(Parent, step(X), N + 1)
    end;
spin(Parent, X, N) ->
    spin(Parent, step(X), N + 1).

step(X) ->
    (X * 1103515245 + 12345) band 16#7fffffff.
