%% heaplab_churn: the `churn` workload of heaplab on the real BEAM (see docs/workloads.md), and the
%% servers and closed-loop clients that heaplab_churn_big and heaplab_large_state share.
%%
%% P server processes each hold a state of K entries {I, V, [I, V]}. A request makes a server
%% rewrite W random entries: each rewrite rebuilds the whole state list (every cons cell new;
%% the entry whose key matches becomes a new tuple holding V+1, the others are reused); the
%% server replies with the state's length. C closed-loop clients make R requests in all to
%% uniformly random servers and time each reply. Prints one line of JSON with the metrics.
%%
%% Protocol (the Rust version in src/workloads/churn.rs and clients.rs follows the same steps):
%% 1. The calling process (the root) spawns the P servers (server S seeds its generator with
%%    S); each builds its state (keys 0 to K - 1, values 0) and sends the root heaplab_ready.
%%    The root waits for all P.
%% 2. The root spawns the C clients; client I gets R div C requests, plus one if
%%    I < R rem C, and waits for heaplab_go. The root starts the clock and sends heaplab_go
%%    to every client.
%% 3. Per request a client picks a server uniformly at random, reads the clock, sends the
%%    server its own pid, waits for the reply (an integer) and keeps the time to it.
%% 4. A server, per request: W times, picks a key uniformly in 0..K-1 and rewrites the state
%%    for it; then replies with the state's length.
%% 5. A client that is done sends the root {heaplab_client_done, I}; the root stops the clock
%%    once all C are done, then collects the clients' samples ({heaplab_samples, I, Ns}).
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_churn, [{processes, 10000}, {entries, 100},
%%        {rewrites, 4}, {clients, 4}, {requests, 200000}])' -s init stop

-module(heaplab_churn).
-export([main/1, run/5]).
-export([spawn_servers/3, run_clients/3, build/1]).
-export([server/4, client/4]).

%% Bytes of one entry: the tuple (4 words), the two cells of [I, V] (4 words) and the state
%% list's cell (2 words).
-define(ENTRY_BYTES, 80).

main(Params) ->
    %% attribution (heaplab's tail attribution) needs every request's moments, which this
    %% version does not record; heaplab refuses attribution=on for the BEAM before erl starts.
    off = proplists:get_value(attribution, Params, off),
    run(proplists:get_value(processes, Params, 10000),
        proplists:get_value(entries, Params, 100),
        proplists:get_value(rewrites, Params, 4),
        proplists:get_value(clients, Params, 4),
        proplists:get_value(requests, Params, 200000)).

%% The whole workload, with its parameters (heaplab_churn_big calls it with its defaults).
run(P, K, W, C, R) ->
    Trace = heaplab_report:gc_trace_start(),
    Servers = spawn_servers(P, K, W),
    {Samples, Ns} = run_clients(Servers, C, R),
    Peak = heaplab_report:vm_kb("VmHWM:") * 1024,
    {Gcs, Reclaimed, _} = erlang:statistics(garbage_collection),
    %% After the peak: unpacking the trace is not part of the run.
    {GcMetrics, GcEvents} = heaplab_report:gc_trace_stop(Trace),
    heaplab_report:print_json(
        [{throughput_per_s, R / (Ns / 1.0e9)},
         {live_bytes, P * K * ?ENTRY_BYTES}]
        ++ [{peak_rss_bytes, Peak},
            {beam_gc_count, Gcs},
            {beam_gc_words_reclaimed, Reclaimed}]
        ++ GcMetrics ++ [GcEvents, heaplab_report:samples([{request_latency_us, Samples}])]).

%% Step 1: P servers of K entries doing W rewrites per request; returns them as a tuple
%% once every state is built.
spawn_servers(P, K, W) ->
    Root = self(),
    Servers = [spawn(?MODULE, server, [Root, S, K, W]) || S <- lists:seq(0, P - 1)],
    wait_ready(P),
    list_to_tuple(Servers).

wait_ready(0) ->
    ok;
wait_ready(N) ->
    receive
        heaplab_ready -> wait_ready(N - 1)
    end.

%% Steps 2, 3 and 5: the clients' samples (nanoseconds) and the time from the go to the
%% last client done (nanoseconds).
run_clients(Servers, C, R) ->
    Root = self(),
    Clients = [spawn(?MODULE, client, [Root, I, quota(R, C, I), Servers]) || I <- lists:seq(0, C - 1)],
    T0 = erlang:monotonic_time(nanosecond),
    [Pid ! heaplab_go || Pid <- Clients],
    [receive {heaplab_client_done, I} -> ok end || I <- lists:seq(0, C - 1)],
    T1 = erlang:monotonic_time(nanosecond),
    Samples = [receive {heaplab_samples, I, Ns} -> Ns end || I <- lists:seq(0, C - 1)],
    {lists:append(Samples), T1 - T0}.

quota(R, C, I) when I < R rem C ->
    R div C + 1;
quota(R, C, _I) ->
    R div C.

client(Root, I, N, Servers) ->
    rand:seed(exsss, {I + 1, I + 1, I + 1}),
    receive
        heaplab_go -> ok
    end,
    Samples = requests(N, Servers, tuple_size(Servers), []),
    Root ! {heaplab_client_done, I},
    Root ! {heaplab_samples, I, Samples}.

requests(0, _Servers, _P, Samples) ->
    Samples;
requests(N, Servers, P, Samples) ->
    Server = element(rand:uniform(P), Servers),
    T0 = erlang:monotonic_time(nanosecond),
    Server ! self(),
    receive
        Length when is_integer(Length) -> ok
    end,
    T1 = erlang:monotonic_time(nanosecond),
    requests(N - 1, Servers, P, [T1 - T0 | Samples]).

%% Steps 1 and 4: one server.
server(Root, Seed, K, W) ->
    rand:seed(exsss, {Seed + 1, Seed + 1, Seed + 1}),
    State = build(K),
    Root ! heaplab_ready,
    serve(State, K, W).

serve(State, K, W) ->
    receive
        From when is_pid(From) ->
            State1 = rewrite(W, State, K),
            From ! length(State1),
            serve(State1, K, W)
    end.

%% A state of K entries, keys counting down from K - 1 to 0 (each consed on the front).
build(K) ->
    build(0, K, []).

build(K, K, State) ->
    State;
build(I, K, State) ->
    build(I + 1, K, [{I, 0, [I, 0]} | State]).

rewrite(0, State, _K) ->
    State;
rewrite(N, State, K) ->
    rewrite(N - 1, bump(State, rand:uniform(K) - 1), K).

%% The state on new cons cells, the entry of Key holding V+1.
bump([{Key, V, _} | Rest], Key) ->
    [{Key, V + 1, [Key, V + 1]} | bump(Rest, Key)];
bump([Entry | Rest], Key) ->
    [Entry | bump(Rest, Key)];
bump([], _Key) ->
    [].
