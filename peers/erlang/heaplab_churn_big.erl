%% heaplab_churn_big: the `churn-big` workload of heaplab on the real BEAM (see
%% docs/workloads.md): churn (heaplab_churn, compiled beside this module) with K = 1000, W = 1 and
%% R = 50,000, about 800 MB of live states.
%%
%% Usage: erl -noshell -pa DIR -eval 'heaplab_report:run(heaplab_churn_big, [{processes, 10000},
%%        {entries, 1000}, {rewrites, 1}, {clients, 4}, {requests, 50000}])' -s init stop

-module(heaplab_churn_big).
-export([main/1]).

main(Params) ->
    %% attribution (heaplab's tail attribution) needs every request's moments, which this
    %% version does not record; heaplab refuses attribution=on for the BEAM before erl starts.
    off = proplists:get_value(attribution, Params, off),
    heaplab_churn:run(proplists:get_value(processes, Params, 10000),
                      proplists:get_value(entries, Params, 1000),
                      proplists:get_value(rewrites, Params, 1),
                      proplists:get_value(clients, Params, 4),
                      proplists:get_value(requests, Params, 50000)).
