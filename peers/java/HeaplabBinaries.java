// HeaplabBinaries: the `binaries` workload of heaplab on the JVM (see docs/workloads.md),
// following peers/erlang/heaplab_binaries.erl. Producers send byte arrays of S bytes through a
// router actor to consumers that keep the last Keep they got, for a sweep of sizes S. A send
// passes a reference: the only copy of the bytes is the one a producer makes of its template.
//
// Protocol:
// 1. The main thread makes C consumers, the router (which knows the consumers) and P producers
//    (which know the router). Each producer holds a template of MaxBytes bytes.
// 2. The sweep: Sizes sizes, halving from MaxBytes (sizes below one byte are left out), smallest
//    first. For each size S the main thread starts the clock and sends producer I a request for
//    N_I messages of S bytes (N_I: Messages / P, plus one if I < Messages mod P).
// 3. A producer sends the router N_I messages {Self, Bytes}, each Bytes a new array holding the
//    first S bytes of its template, with at most 16 unacknowledged: past that it sends the next
//    one when an acknowledgement comes. Once all are acknowledged it counts a latch down.
// 4. The router forwards each message, unchanged, to the consumers in turn.
// 5. A consumer keeps the array among the last Keep it got and acknowledges the message to its
//    producer.
// 6. The main thread stops the clock when every producer is done: throughput_<S>b_per_s.
//
// Usage: java -cp DIR HeaplabBinaries max_bytes=1048576 sizes=11 messages=10000 producers=2 consumers=2 keep=100

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;

public final class HeaplabBinaries {
    static final int WINDOW = 16;

    public static void main(String[] args) throws Exception {
        HeaplabReport report = HeaplabReport.start(args);
        int consumers = (int) report.integer("consumers", 2);
        int keep = (int) report.integer("keep", 100);
        int maxBytes = (int) report.integer("max_bytes", 1048576);
        long messages = report.integer("messages", 10000);
        int producers = (int) report.integer("producers", 2);
        int sizes = (int) report.integer("sizes", 11);

        TreeSet<Integer> sweep = new TreeSet<>();
        for (int h = 0; h < sizes && h < 31; h++) {
            if ((maxBytes >> h) > 0) {
                sweep.add(maxBytes >> h);
            }
        }
        HeaplabActors system = new HeaplabActors(HeaplabReport.schedulers());
        Consumer[] consumerActors = new Consumer[consumers];
        for (int i = 0; i < consumers; i++) {
            consumerActors[i] = new Consumer(system, keep);
        }
        Router router = new Router(system, consumerActors);
        byte[] template = new byte[maxBytes];
        for (int i = 0; i < maxBytes; i++) {
            template[i] = (byte) i;
        }
        Producer[] producerActors = new Producer[producers];
        for (int i = 0; i < producers; i++) {
            producerActors[i] = new Producer(system, router, template);
        }

        report.windowStart();
        long allNs = 0;
        for (int s : sweep) {
            CountDownLatch done = new CountDownLatch(producers);
            long t0 = System.nanoTime();
            for (int i = 0; i < producers; i++) {
                producerActors[i].send(new Produce(s, HeaplabReport.quota(messages, producers, i), done));
            }
            done.await();
            long ns = System.nanoTime() - t0;
            allNs += ns;
            report.metric("throughput_" + s + "b_per_s", messages / (ns / 1e9));
        }
        report.windowEnd();
        long all = messages * sweep.size();
        report.metric("throughput_per_s", all / (allNs / 1e9));
        report.metric("messages", all);
        report.print();
        system.shutdown();
    }

    static final class Produce {
        final int size;
        final long count;
        final CountDownLatch done;

        Produce(int size, long count, CountDownLatch done) {
            this.size = size;
            this.count = count;
            this.done = done;
        }
    }

    static final class Message {
        final Producer from;
        final byte[] bytes;

        Message(Producer from, byte[] bytes) {
            this.from = from;
            this.bytes = bytes;
        }
    }

    private static final Object ACK = new Object();

    /** Step 3. */
    static final class Producer extends HeaplabActors.Actor {
        private final Router router;
        private final byte[] template;
        private Produce job;
        private long toSend;
        private long unacknowledged;

        Producer(HeaplabActors system, Router router, byte[] template) {
            super(system);
            this.router = router;
            this.template = template;
        }

        @Override
        protected void receive(Object message) {
            if (message == ACK) {
                unacknowledged--;
            } else {
                job = (Produce) message;
                toSend = job.count;
            }
            while (toSend > 0 && unacknowledged < WINDOW) {
                router.send(new Message(this, Arrays.copyOf(template, job.size)));
                toSend--;
                unacknowledged++;
            }
            if (toSend == 0 && unacknowledged == 0 && job != null) {
                job.done.countDown();
                job = null;
            }
        }
    }

    /** Step 4. */
    static final class Router extends HeaplabActors.Actor {
        private final Consumer[] consumers;
        private int next;

        Router(HeaplabActors system, Consumer[] consumers) {
            super(system);
            this.consumers = consumers;
        }

        @Override
        protected void receive(Object message) {
            consumers[next].send(message);
            next = (next + 1) % consumers.length;
        }
    }

    /** Step 5. */
    static final class Consumer extends HeaplabActors.Actor {
        private final int keep;
        private final ArrayDeque<byte[]> kept;

        Consumer(HeaplabActors system, int keep) {
            super(system);
            this.keep = keep;
            this.kept = new ArrayDeque<>(keep + 1);
        }

        @Override
        protected void receive(Object message) {
            Message m = (Message) message;
            kept.addFirst(m.bytes);
            if (kept.size() > keep) {
                kept.removeLast();
            }
            m.from.send(ACK);
        }
    }
}
