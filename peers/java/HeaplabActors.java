// HeaplabActors: the processes of the Java versions of heaplab's workloads. An actor is a
// mailbox queue plus a scheduled flag; a fixed pool of scheduler threads (one per core, or
// heaplab's --schedulers) runs the actors that have mail.
//
// Protocol:
// 1. send(m) appends m to the actor's mailbox; if the actor was not scheduled, the sender sets
//    the flag and hands the actor to the pool.
// 2. A pool thread runs the actor: it takes up to BATCH messages from the mailbox and gives
//    each to receive(m) (one actor runs on one thread at a time: the flag is set while it runs).
// 3. Then it clears the flag; if mail arrived meanwhile it sets the flag again and hands the
//    actor back to the pool, so no message waits without the actor being scheduled.
//
// An actor that has no mail costs its object and its empty queue; an actor nobody references
// is collected like any object (that is how one exits).

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

public final class HeaplabActors {
    /** Messages an actor handles per turn before other actors get the thread (Protocol step 2). */
    static final int BATCH = 64;

    final ExecutorService pool;

    public HeaplabActors(int threads) {
        pool = Executors.newFixedThreadPool(threads, runnable -> {
            Thread thread = new Thread(runnable, "heaplab-scheduler");
            thread.setDaemon(true);
            return thread;
        });
    }

    public void shutdown() {
        pool.shutdownNow();
    }

    public abstract static class Actor implements Runnable {
        private final ConcurrentLinkedQueue<Object> mailbox = new ConcurrentLinkedQueue<>();
        private final AtomicBoolean scheduled = new AtomicBoolean();
        private final HeaplabActors system;

        protected Actor(HeaplabActors system) {
            this.system = system;
        }

        /** Handles one message, on a pool thread. */
        protected abstract void receive(Object message);

        /** Protocol step 1. */
        public final void send(Object message) {
            mailbox.add(message);
            if (!scheduled.get() && scheduled.compareAndSet(false, true)) {
                system.pool.execute(this);
            }
        }

        /** Protocol steps 2 and 3. */
        @Override
        public final void run() {
            for (int i = 0; i < BATCH; i++) {
                Object message = mailbox.poll();
                if (message == null) {
                    break;
                }
                receive(message);
            }
            scheduled.set(false);
            if (!mailbox.isEmpty() && scheduled.compareAndSet(false, true)) {
                system.pool.execute(this);
            }
        }
    }
}
