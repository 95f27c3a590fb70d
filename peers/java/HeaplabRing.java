// HeaplabRing: the `ring` workload of heaplab on the JVM (see docs/workloads.md), following
// peers/erlang/heaplab_ring.erl.
//
// N actors form a ring and pass a token around it M times (N * M hops). Each hop is a new token
// object holding K, the hops still to make, and the payload: nothing when `payload` is 0, else a
// list of `payload` integers built once (with `copies` C > 1, a list of C references to that
// list). A send passes a reference: the JVM copies nothing, so unlike the BEAM the payload's
// size changes nothing but the live data.
//
// Protocol:
// 1. The main thread makes the N members, member I knowing member I + 1 (the last knows
//    member 0).
// 2. It builds the payload, starts the clock and sends member 1 the token K = N * M - 1; every
//    member that receives K > 0 sends K - 1 with the payload to its next member. After exactly
//    N * M hops member 0 receives 0 and lets the main thread stop the clock.
//
// Usage: java -cp DIR HeaplabRing processes=1000 laps=1000 payload=0 copies=1 time_split=off

import java.util.concurrent.CountDownLatch;

public final class HeaplabRing {
    public static void main(String[] args) throws Exception {
        HeaplabReport report = HeaplabReport.start(args);
        long n = report.integer("processes", 1000);
        long m = report.integer("laps", 1000);
        long p = report.integer("payload", 0);
        long c = report.integer("copies", 1);
        // time_split (heaplab's mutator / send / GC split) needs a runtime that times its sends;
        // heaplab refuses time_split=on for the JVM before java starts.
        if (!report.word("time_split", "off").equals("off")) {
            throw new IllegalArgumentException("time_split=on is measured on heaplab's runtime only");
        }
        long hops = n * m;
        HeaplabActors system = new HeaplabActors(HeaplabReport.schedulers());
        CountDownLatch back = new CountDownLatch(1);
        Member[] members = new Member[(int) n];
        for (int i = 0; i < n; i++) {
            members[i] = new Member(system, i == 0 ? back : null);
        }
        for (int i = 0; i < n; i++) {
            members[i].next = members[(int) ((i + 1) % n)];
        }
        Object payload = payload(p, c);
        report.windowStart();
        long t0 = System.nanoTime();
        members[0].next.send(new Token(hops - 1, payload));
        back.await();
        long ns = System.nanoTime() - t0;
        report.windowEnd();
        report.metric("ns_per_hop", (double) ns / hops);
        report.metric("hops", hops);
        report.print();
        system.shutdown();
    }

    static final class Token {
        final long k;
        final Object payload;

        Token(long k, Object payload) {
            this.k = k;
            this.payload = payload;
        }
    }

    static final class Cell {
        final Object head;
        final Cell tail;

        Cell(Object head, Cell tail) {
            this.head = head;
            this.tail = tail;
        }
    }

    /** The payload: nothing, a list of P integers, or C references to one. */
    static Object payload(long p, long c) {
        if (p == 0) {
            return null;
        }
        Cell list = null;
        for (long i = p - 1; i >= 0; i--) {
            list = new Cell(i, list);
        }
        if (c == 1) {
            return list;
        }
        Cell copies = null;
        for (long i = 0; i < c; i++) {
            copies = new Cell(list, copies);
        }
        return copies;
    }

    static final class Member extends HeaplabActors.Actor {
        Member next;
        private final CountDownLatch back;

        Member(HeaplabActors system, CountDownLatch back) {
            super(system);
            this.back = back;
        }

        @Override
        protected void receive(Object message) {
            Token token = (Token) message;
            if (token.k > 0) {
                next.send(new Token(token.k - 1, token.payload));
            } else if (back != null) {
                back.countDown();
            }
        }
    }
}
