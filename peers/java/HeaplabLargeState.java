// HeaplabLargeState: the `large-state` workload of heaplab on the JVM (see docs/workloads.md),
// following peers/erlang/heaplab_large_state.erl. One actor holds a large live state and keeps
// rewriting part of it, while C clients time small requests to P small servers (the servers and
// clients of HeaplabChurn, compiled beside this class).
//
// Protocol:
// 1. The main thread makes the large actor and sends it a build message: it builds a state of
//    StateMb * 2^20 / 80 entries {I, V, [I, V]} (the entry count of the Erlang version, whose
//    entries take 80 bytes; here each takes HeaplabChurn.ENTRY_BYTES), then loops until told to
//    stop: each step rebuilds the first RewriteEntries entries of its state (new entries holding
//    V+1 on new cells, the rest of the list shared) and sends the actor itself the next step, so
//    the other actors get the scheduler threads between steps, as the BEAM preempts it.
// 2. The main thread makes P small servers (churn servers with 10 entries doing 1 rewrite per
//    request) and waits for their states.
// 3. The clients run as in HeaplabChurn; their latencies are request_latency_us.
// 4. The main thread sends the large actor a stop message; it answers with the steps it made
//    (state_rewrites).
//
// Usage: java -cp DIR HeaplabLargeState state_mb=64 rewrite_entries=10000 processes=1000 clients=4 requests=200000

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;

public final class HeaplabLargeState {
    /** Bytes of an entry in the Erlang version, which sets the entry count. */
    static final long ERLANG_ENTRY_BYTES = 80;
    static final int SMALL_ENTRIES = 10;
    static final int SMALL_REWRITES = 1;

    public static void main(String[] args) throws Exception {
        HeaplabReport report = HeaplabReport.start(args);
        // attribution (heaplab's tail attribution) needs a runtime that stamps its wake-ups;
        // heaplab refuses attribution=on for the JVM before java starts.
        report.requireOff("attribution", report.word("attribution", "off"));
        long c = report.integer("clients", 4);
        long p = report.integer("processes", 1000);
        long r = report.integer("requests", 200000);
        long rewrite = report.integer("rewrite_entries", 10000);
        long stateMb = report.integer("state_mb", 64);
        long entries = (stateMb * 1048576 + ERLANG_ENTRY_BYTES - 1) / ERLANG_ENTRY_BYTES;

        HeaplabActors system = new HeaplabActors(HeaplabReport.schedulers());
        CountDownLatch ready = new CountDownLatch(1);
        Large large = new Large(system, entries, (int) rewrite, ready);
        large.send(BUILD);
        ready.await();
        HeaplabChurn.Server[] servers = HeaplabChurn.spawnServers(system, (int) p, SMALL_ENTRIES, SMALL_REWRITES);
        HeaplabChurn.Clients clients = HeaplabChurn.runClients(report, servers, (int) c, r);
        ArrayBlockingQueue<Long> steps = new ArrayBlockingQueue<>(1);
        large.send(steps);
        long rewrites = steps.take();

        report.metric("throughput_per_s", r / (clients.ns / 1e9));
        report.metric("state_bytes", entries * HeaplabChurn.ENTRY_BYTES);
        report.metric("state_rewrites", rewrites);
        report.samples("request_latency_us", clients.samples);
        report.print();
        system.shutdown();
    }

    private static final Object BUILD = new Object();
    private static final Object STEP = new Object();

    /** Step 1: the large actor. */
    static final class Large extends HeaplabActors.Actor {
        private final long entries;
        private final int rewrite;
        private final CountDownLatch ready;
        private HeaplabChurn.Cell state;
        private long steps;
        private boolean stopped;

        Large(HeaplabActors system, long entries, int rewrite, CountDownLatch ready) {
            super(system);
            this.entries = entries;
            this.rewrite = rewrite;
            this.ready = ready;
        }

        @Override
        @SuppressWarnings("unchecked")
        protected void receive(Object message) {
            if (message == BUILD) {
                state = HeaplabChurn.build(entries);
                ready.countDown();
                send(STEP);
            } else if (message == STEP) {
                if (!stopped) {
                    state = HeaplabChurn.rewritePrefix(state, rewrite);
                    steps++;
                    send(STEP);
                }
            } else {
                stopped = true;
                ((ArrayBlockingQueue<Long>) message).add(steps);
            }
        }
    }
}
