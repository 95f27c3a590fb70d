// HeaplabChurn: the `churn` workload of heaplab on the JVM (see docs/workloads.md), and the
// servers, clients and states that HeaplabChurnBig and HeaplabLargeState share. It follows the
// steps of peers/erlang/heaplab_churn.erl.
//
// P server actors each hold a state of K entries {I, V, [I, V]}: a linked list of cells whose
// heads are entries, each entry holding I, V and a two-cell list of I and V. A request makes a
// server rewrite W random entries: each rewrite rebuilds the whole state list on new cells (the
// entry whose key matches becomes a new entry holding V+1, the others are reused), as the
// Erlang list comprehension does; the server replies with the state's length. C closed-loop
// clients, platform threads, make R requests in all to uniformly random servers and time each
// reply.
//
// Protocol:
// 1. The main thread makes the P servers (server S seeds its generator with S) and sends each a
//    build message; each builds its state (keys counting down from K - 1 to 0, values 0) on a
//    pool thread. The main thread waits for all P.
// 2. It starts the C clients; client I gets R / C requests, plus one if I < R mod C, and waits
//    for the go. The main thread starts the clock and lets every client go.
// 3. Per request a client picks a server uniformly at random, reads the clock, sends the server
//    its reply queue, waits for the reply (an integer) and keeps the time to it.
// 4. A server, per request: W times, picks a key uniformly in 0..K-1 and rewrites the state for
//    it; then puts the state's length in the client's reply queue.
// 5. The main thread stops the clock once every client is done.
//
// Usage: java -cp DIR HeaplabChurn processes=10000 entries=100 rewrites=4 clients=4 requests=200000

import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;

public final class HeaplabChurn {
    /**
     * Bytes of one entry with compressed oops and 12-byte object headers (the JVM's defaults
     * below a 32 GB heap): the list cell (24), the entry (32) and the two cells of [I, V] (24
     * each).
     */
    static final long ENTRY_BYTES = 104;

    public static void main(String[] args) throws Exception {
        HeaplabReport report = HeaplabReport.start(args);
        // attribution (heaplab's tail attribution) needs a runtime that stamps its wake-ups;
        // heaplab refuses attribution=on for the JVM before java starts.
        report.requireOff("attribution", report.word("attribution", "off"));
        run(report,
                report.integer("processes", 10000),
                report.integer("entries", 100),
                report.integer("rewrites", 4),
                report.integer("clients", 4),
                report.integer("requests", 200000));
    }

    /** The whole workload with its parameters (HeaplabChurnBig calls it with its defaults). */
    static void run(HeaplabReport report, long p, long k, long w, long c, long r) throws Exception {
        HeaplabActors system = new HeaplabActors(HeaplabReport.schedulers());
        Server[] servers = spawnServers(system, (int) p, (int) k, (int) w);
        Clients clients = runClients(report, servers, (int) c, r);
        report.metric("throughput_per_s", r / (clients.ns / 1e9));
        report.metric("live_bytes", p * k * ENTRY_BYTES);
        report.samples("request_latency_us", clients.samples);
        report.print();
        system.shutdown();
    }

    static final class LongCell {
        final long head;
        final LongCell tail;

        LongCell(long head, LongCell tail) {
            this.head = head;
            this.tail = tail;
        }
    }

    static final class Entry {
        final long key;
        final long value;
        final LongCell pair;

        Entry(long key, long value) {
            this.key = key;
            this.value = value;
            this.pair = new LongCell(key, new LongCell(value, null));
        }
    }

    static final class Cell {
        final Entry head;
        final Cell tail;

        Cell(Entry head, Cell tail) {
            this.head = head;
            this.tail = tail;
        }
    }

    /** A state of K entries, keys counting down from K - 1 to 0 (each consed on the front). */
    static Cell build(long k) {
        Cell state = null;
        for (long i = 0; i < k; i++) {
            state = new Cell(new Entry(i, 0), state);
        }
        return state;
    }

    static int length(Cell state) {
        int n = 0;
        for (Cell cell = state; cell != null; cell = cell.tail) {
            n++;
        }
        return n;
    }

    /** Entries of the cells being rebuilt, per scheduler thread (a server runs on one at a time). */
    private static final ThreadLocal<Entry[]> SCRATCH = ThreadLocal.withInitial(() -> new Entry[16]);

    private static Entry[] scratch(int n) {
        Entry[] entries = SCRATCH.get();
        if (entries.length < n) {
            entries = new Entry[Math.max(n, entries.length * 2)];
            SCRATCH.set(entries);
        }
        return entries;
    }

    /** The state on new cells, the entry of KEY holding V+1. */
    static Cell bump(Cell state, long key, int k) {
        Entry[] entries = scratch(k);
        int n = 0;
        for (Cell cell = state; cell != null; cell = cell.tail) {
            Entry entry = cell.head;
            entries[n++] = entry.key == key ? new Entry(key, entry.value + 1) : entry;
        }
        Cell rebuilt = null;
        for (int i = n - 1; i >= 0; i--) {
            rebuilt = new Cell(entries[i], rebuilt);
            entries[i] = null;
        }
        return rebuilt;
    }

    /** The first N entries replaced by entries holding V+1 on new cells; the rest shared. */
    static Cell rewritePrefix(Cell state, int n) {
        Entry[] entries = scratch(n);
        int taken = 0;
        Cell rest = state;
        while (taken < n && rest != null) {
            Entry entry = rest.head;
            entries[taken++] = new Entry(entry.key, entry.value + 1);
            rest = rest.tail;
        }
        for (int i = taken - 1; i >= 0; i--) {
            rest = new Cell(entries[i], rest);
            entries[i] = null;
        }
        return rest;
    }

    /** Steps 1 and 4: one server. */
    static final class Server extends HeaplabActors.Actor {
        private final SplittableRandom random;
        private final int k;
        private final int w;
        private final CountDownLatch ready;
        private Cell state;

        Server(HeaplabActors system, long seed, int k, int w, CountDownLatch ready) {
            super(system);
            this.random = new SplittableRandom(seed);
            this.k = k;
            this.w = w;
            this.ready = ready;
        }

        @Override
        @SuppressWarnings("unchecked")
        protected void receive(Object message) {
            if (message == BUILD) {
                state = build(k);
                ready.countDown();
                return;
            }
            for (int i = 0; i < w; i++) {
                state = bump(state, random.nextInt(k), k);
            }
            ((ArrayBlockingQueue<Integer>) message).add(length(state));
        }
    }

    private static final Object BUILD = new Object();

    /** Step 1: P servers of K entries doing W rewrites per request, once every state is built. */
    static Server[] spawnServers(HeaplabActors system, int p, int k, int w) throws InterruptedException {
        CountDownLatch ready = new CountDownLatch(p);
        Server[] servers = new Server[p];
        for (int s = 0; s < p; s++) {
            servers[s] = new Server(system, s, k, w, ready);
            servers[s].send(BUILD);
        }
        ready.await();
        return servers;
    }

    /** What the clients measured: every request's latency and the window, in nanoseconds. */
    static final class Clients {
        final long[] samples;
        final long ns;

        Clients(long[] samples, long ns) {
            this.samples = samples;
            this.ns = ns;
        }
    }

    /** Steps 2, 3 and 5. */
    static Clients runClients(HeaplabReport report, Server[] servers, int c, long r) throws InterruptedException {
        CountDownLatch go = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(c);
        long[][] samples = new long[c][];
        Thread[] clients = new Thread[c];
        for (int i = 0; i < c; i++) {
            final int index = i;
            final long[] mine = new long[(int) HeaplabReport.quota(r, c, i)];
            samples[i] = mine;
            clients[i] = new Thread(() -> {
                SplittableRandom random = new SplittableRandom(index + 1);
                ArrayBlockingQueue<Integer> replies = new ArrayBlockingQueue<>(1);
                try {
                    go.await();
                    for (int n = 0; n < mine.length; n++) {
                        Server server = servers[random.nextInt(servers.length)];
                        long t0 = System.nanoTime();
                        server.send(replies);
                        replies.take();
                        mine[n] = System.nanoTime() - t0;
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                done.countDown();
            }, "heaplab-client-" + i);
            clients[i].start();
        }
        report.windowStart();
        go.countDown();
        done.await();
        long ns = report.windowEnd();
        int total = 0;
        for (long[] mine : samples) {
            total += mine.length;
        }
        long[] all = new long[total];
        int at = 0;
        for (long[] mine : samples) {
            System.arraycopy(mine, 0, all, at, mine.length);
            at += mine.length;
        }
        return new Clients(all, ns);
    }
}
