%% Helpers shared by the Erlang versions of the heaplab workloads: reading the emulator's
%% memory from /proc, summarising latency samples and printing the one line of JSON metrics
%% that heaplab parses.
-module(heaplab_report).
-export([vm_kb/1, print_json/1, latency_metrics/2]).

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

%% Count, mean and percentiles of latency samples in nanoseconds, as metrics in microseconds
%% named Name_p50_us and so on (the figures a heaplab histogram summary holds).
latency_metrics(Name, []) ->
    [{Name ++ "_count", 0}];
latency_metrics(Name, SamplesNs) ->
    Sorted = lists:sort(SamplesNs),
    N = length(Sorted),
    Us = fun(Ns) -> Ns / 1000 end,
    [{Name ++ "_count", N},
     {Name ++ "_mean_us", Us(lists:sum(Sorted) / N)},
     {Name ++ "_p50_us", Us(percentile(Sorted, N, 0.50))},
     {Name ++ "_p90_us", Us(percentile(Sorted, N, 0.90))},
     {Name ++ "_p99_us", Us(percentile(Sorted, N, 0.99))},
     {Name ++ "_p999_us", Us(percentile(Sorted, N, 0.999))},
     {Name ++ "_max_us", Us(lists:last(Sorted))}].

%% The value at rank ceil(P * N) of a sorted list, as HdrHistogram reports percentiles.
percentile(Sorted, N, P) ->
    Rank = max(1, min(N, ceil(P * N))),
    lists:nth(Rank, Sorted).

print_json(Pairs) ->
    Fields = [io_lib:format("\"~s\":~s", [Key, number(Value)]) || {Key, Value} <- Pairs],
    io:format("{~s}~n", [lists:join(",", Fields)]).

number(Value) when is_integer(Value) ->
    integer_to_list(Value);
number(Value) when is_float(Value) ->
    float_to_list(Value, [{decimals, 3}, compact]).
