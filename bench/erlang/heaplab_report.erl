%% Helpers shared by the Erlang versions of the heaplab workloads: reading the emulator's
%% memory from /proc and printing the one line of JSON metrics that heaplab parses.
-module(heaplab_report).
-export([vm_kb/1, print_json/1]).

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

print_json(Pairs) ->
    Fields = [io_lib:format("\"~s\":~s", [Key, number(Value)]) || {Key, Value} <- Pairs],
    io:format("{~s}~n", [lists:join(",", Fields)]).

number(Value) when is_integer(Value) ->
    integer_to_list(Value);
number(Value) when is_float(Value) ->
    float_to_list(Value, [{decimals, 3}, compact]).
