// HeaplabReport: what every Java version of a heaplab workload shares: its parameters from the
// command line, the clock of the measured window, memory figures from /proc and the one line of
// JSON that heaplab parses (heaplab's peer protocol, src/peer.rs).
//
// The line: an object of metric names to numbers, plus "samples" (histogram names to arrays of
// raw values in nanoseconds, so heaplab builds real histograms) and "peer" (the runtime, its
// versions and "wall_ns": the time from the program's start to the line, measured in the VM,
// without VM start and stop). Collections are not in the line: heaplab reads the pauses from
// the JVM's own log (-Xlog:gc*,safepoint), written to a file it names.
//
// JIT warm-up is inside the measured window: nothing runs the workload before the clock starts,
// so the interpreter and the JIT compilers work during the first part of the run as they would
// in a service just started. jit_compile_s is the time the JIT compilers spent compiling inside
// the window (CompilationMXBean, summed over compiler threads), so a reader sees how much of it
// there was.
//
// Usage: java -cp DIR [-Dheaplab.schedulers=N] HeaplabChurn processes=10000 entries=100 ...

import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class HeaplabReport {
    private final Map<String, String> params = new HashMap<>();
    private final Map<String, Double> metrics = new LinkedHashMap<>();
    private final Map<String, long[]> samples = new LinkedHashMap<>();
    private final long start = System.nanoTime();
    private long windowStart;
    private long jitAtWindowStart;

    private HeaplabReport(String[] args) {
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected NAME=VALUE, got '" + arg + "'");
            }
            params.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
    }

    /** The report of a run with the program's arguments (each NAME=VALUE). */
    public static HeaplabReport start(String[] args) {
        return new HeaplabReport(args);
    }

    /** Integer parameter NAME, DEFAULT when not given (heaplab always gives every one). */
    public long integer(String name, long defaultValue) {
        String value = params.get(name);
        return value == null ? defaultValue : Long.parseLong(value);
    }

    /** Word parameter NAME, DEFAULT when not given. */
    /** Refuses a parameter that only heaplab's runtime measures when it is not off. */
    public void requireOff(String name, String value) {
        if (!value.equals("off")) {
            throw new IllegalArgumentException(name + "=on is measured on heaplab's runtime only");
        }
    }

    public String word(String name, String defaultValue) {
        String value = params.get(name);
        return value == null ? defaultValue : value;
    }

    /** The scheduler threads of the actor pool: heaplab's --schedulers, else one per core. */
    public static int schedulers() {
        return Integer.getInteger("heaplab.schedulers", Runtime.getRuntime().availableProcessors());
    }

    /** Marks the start of the measured window: the JIT time from here is jit_compile_s. */
    public void windowStart() {
        windowStart = System.nanoTime();
        jitAtWindowStart = jitMillis();
    }

    /** Marks its end; returns its length in nanoseconds. */
    public long windowEnd() {
        long ns = System.nanoTime() - windowStart;
        metric("jit_compile_s", (jitMillis() - jitAtWindowStart) / 1e3);
        return ns;
    }

    private static long jitMillis() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : 0;
    }

    public void metric(String name, double value) {
        metrics.put(name, value);
    }

    public void samples(String name, long[] ns) {
        samples.put(name, ns);
    }

    /** A "Name:  value kB" line of /proc/self/status, in bytes; 0 where there is none. */
    public static long procBytes(String name) {
        try {
            for (String line : Files.readAllLines(Paths.get("/proc/self/status"), StandardCharsets.UTF_8)) {
                if (line.startsWith(name)) {
                    String[] parts = line.substring(name.length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return 0;
    }

    /** Heap in use after a full collection (the live data), in bytes. */
    public static long liveHeapBytes() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** Prints the line, with peak_rss_bytes and the heap's maximum. */
    public void print() {
        metric("peak_rss_bytes", procBytes("VmHWM:"));
        metric("jvm_heap_max_bytes", Runtime.getRuntime().maxMemory());
        StringBuilder out = new StringBuilder(1 << 16);
        out.append('{');
        for (Map.Entry<String, Double> entry : metrics.entrySet()) {
            out.append('"').append(entry.getKey()).append("\":");
            number(out, entry.getValue());
            out.append(',');
        }
        out.append("\"samples\":{");
        boolean first = true;
        for (Map.Entry<String, long[]> entry : samples.entrySet()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            out.append('"').append(entry.getKey()).append("\":[");
            long[] values = entry.getValue();
            for (int i = 0; i < values.length; i++) {
                if (i > 0) {
                    out.append(',');
                }
                out.append(values[i]);
            }
            out.append(']');
        }
        List<String> collectors = new ArrayList<>();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            collectors.add(gc.getName());
        }
        out.append("},\"peer\":{\"runtime\":\"jvm\",\"java_version\":\"")
                .append(System.getProperty("java.runtime.version"))
                .append("\",\"vm\":\"")
                .append(System.getProperty("java.vm.name"))
                .append("\",\"collectors\":\"")
                .append(String.join(", ", collectors))
                .append("\",\"wall_ns\":")
                .append(System.nanoTime() - start)
                .append("}}\n");
        System.out.print(out);
        System.out.flush();
    }

    private static void number(StringBuilder out, double value) {
        if (!Double.isFinite(value)) {
            out.append('0');
        } else if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            out.append((long) value);
        } else {
            out.append(value);
        }
    }

    /** The requests of client I of C, R in all: R / C, plus one if I < R mod C. */
    public static long quota(long r, long c, long i) {
        return r / c + (i < r % c ? 1 : 0);
    }
}
