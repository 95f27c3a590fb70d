// HeaplabSpawn: the `spawn` workload of heaplab on the JVM (see docs/workloads.md), following
// peers/erlang/heaplab_spawn.erl. An actor here is an object with a mailbox queue and a
// scheduled flag (HeaplabActors): making one allocates those, and it runs only once it has mail.
//
// Protocol:
// 1. Baseline: the heap in use after a full collection (the array that will hold the actors is
//    already allocated) and the resident set size (VmRSS).
// 2. Make N actors that each wait for one message, timed: spawn_ns_per_process.
// 3. Measure again: bytes_per_process is the growth of the heap in use after a full collection
//    per actor, rss_bytes_per_process the growth of VmRSS per actor.
// 4. Send each actor a message and wait until every one has handled it (each counts a latch
//    down and is then referenced by nothing: it is gone at the next collection):
//    exit_ns_per_process.
//
// The two full collections (System.gc()) of steps 1 and 3 are in the GC log, and so in the
// run's pauses, as erlang:garbage_collect/0 is in the BEAM's.
//
// Usage: java -cp DIR HeaplabSpawn processes=1000000

import java.util.concurrent.CountDownLatch;

public final class HeaplabSpawn {
    public static void main(String[] args) throws Exception {
        HeaplabReport report = HeaplabReport.start(args);
        int n = (int) report.integer("processes", 1000000);
        HeaplabActors system = new HeaplabActors(HeaplabReport.schedulers());
        CountDownLatch exited = new CountDownLatch(n);
        Idle[] actors = new Idle[n];
        long heap0 = HeaplabReport.liveHeapBytes();
        long rss0 = HeaplabReport.procBytes("VmRSS:");

        report.windowStart();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            actors[i] = new Idle(system, exited);
        }
        long t1 = System.nanoTime();

        long heap1 = HeaplabReport.liveHeapBytes();
        long rss1 = HeaplabReport.procBytes("VmRSS:");

        long t2 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            actors[i].send(STOP);
            actors[i] = null;
        }
        exited.await();
        long t3 = System.nanoTime();
        report.windowEnd();

        report.metric("spawn_ns_per_process", (double) (t1 - t0) / n);
        report.metric("bytes_per_process", (double) (heap1 - heap0) / n);
        report.metric("rss_bytes_per_process", (double) (rss1 - rss0) / n);
        report.metric("exit_ns_per_process", (double) (t3 - t2) / n);
        report.print();
        system.shutdown();
    }

    private static final Object STOP = new Object();

    /** Waits for one message, then counts the latch down. */
    static final class Idle extends HeaplabActors.Actor {
        private final CountDownLatch exited;

        Idle(HeaplabActors system, CountDownLatch exited) {
            super(system);
            this.exited = exited;
        }

        @Override
        protected void receive(Object message) {
            exited.countDown();
        }
    }
}
