#!/usr/bin/env escript
%%! +sbt db
%% The gen_statem side of bench/runtime.py: the same 3-state cycle
%% (idle -> running -> done -> idle) as a gen_statem, measured the same ways.
%% Prints one "key value" line per figure; bench/runtime.py reads them.
-mode(compile).
-behaviour(gen_statem).
-export([main/1, init/1, callback_mode/0, idle/3, running/3, done/3]).

callback_mode() -> state_functions.

init(Payload) -> {ok, idle, Payload}.

idle({call, From}, start, Data) -> {next_state, running, Data, [{reply, From, running}]};
idle({call, From}, _, Data) -> {keep_state, Data, [{reply, From, {error, not_allowed}}]}.

running({call, From}, finish, Data) -> {next_state, done, Data, [{reply, From, done}]};
running({call, From}, _, Data) -> {keep_state, Data, [{reply, From, {error, not_allowed}}]}.

done({call, From}, reset, Data) -> {next_state, idle, Data, [{reply, From, idle}]};
done({call, From}, _, Data) -> {keep_state, Data, [{reply, From, {error, not_allowed}}]}.

now_us() -> erlang:monotonic_time(microsecond).

cycle(_Pid, 0) -> ok;
cycle(Pid, N) ->
    running = gen_statem:call(Pid, start),
    done = gen_statem:call(Pid, finish),
    idle = gen_statem:call(Pid, reset),
    cycle(Pid, N - 1).

start_many(N) -> [begin {ok, P} = gen_statem:start(?MODULE, #{id => I}, []), P end
                  || I <- lists:seq(1, N)].

stop_all(Pids) -> [gen_statem:stop(P) || P <- Pids], ok.

%% one caller drives its slice of FSMs through Rounds full cycles each
worker(Parent, Pids, Rounds) ->
    [cycle(P, Rounds) || P <- Pids],
    Parent ! {done, self()}.

slices(List, K) -> slices(List, K, length(List) div K).
slices([], _, _) -> [];
slices(List, 1, _) -> [List];
slices(List, K, Size) ->
    {H, T} = lists:split(Size, List),
    [H | slices(T, K - 1, Size)].

main(Args) ->
    [Single, Many, Callers, Rounds, Starts, Idle] =
        case Args of
            [] -> [300000, 10000, 100, 10, 100000, 100000];
            _ -> [list_to_integer(A) || A <- Args]
        end,
    %% 1. awaited call on one FSM (best of 3 runs, like the Python side)
    {ok, One} = gen_statem:start(?MODULE, #{}, []),
    cycle(One, 1000),
    Rates = [begin
                 T0 = now_us(),
                 cycle(One, Single div 3),
                 T1 = now_us(),
                 (Single div 3) * 3 / ((T1 - T0) / 1.0e6)
             end || _ <- [1, 2, 3]],
    gen_statem:stop(One),
    io:format("single_call_per_s ~p~n", [round(lists:max(Rates))]),
    %% 2. many FSMs, concurrent callers
    Pids = start_many(Many),
    Self = self(),
    T2 = now_us(),
    Workers = [spawn(fun() -> worker(Self, S, Rounds) end) || S <- slices(Pids, Callers)],
    [receive {done, W} -> ok end || W <- Workers],
    T3 = now_us(),
    io:format("many_events_per_s ~p~n", [round(Many * Rounds * 3 / ((T3 - T2) / 1.0e6))]),
    stop_all(Pids),
    %% 3. start rate
    T4 = now_us(),
    Started = start_many(Starts),
    T5 = now_us(),
    io:format("starts_per_s ~p~n", [round(Starts / ((T5 - T4) / 1.0e6))]),
    stop_all(Started),
    %% 4. memory per idle FSM process
    erlang:garbage_collect(),
    M0 = erlang:memory(processes),
    IdlePids = start_many(Idle),
    [erlang:garbage_collect(P) || P <- IdlePids],
    M1 = erlang:memory(processes),
    io:format("bytes_per_idle_fsm ~p~n", [round((M1 - M0) / Idle)]),
    stop_all(IdlePids),
    io:format("otp_release ~s~n", [erlang:system_info(otp_release)]).
