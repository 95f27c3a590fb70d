// HeaplabChurnBig: the `churn-big` workload of heaplab on the JVM (see docs/workloads.md):
// churn (HeaplabChurn, compiled beside this class) with K = 1000, W = 1 and R = 50,000, about
// 1 GB of live states in the JVM's layout (104 bytes an entry).
//
// Usage: java -cp DIR HeaplabChurnBig processes=10000 entries=1000 rewrites=1 clients=4 requests=50000

public final class HeaplabChurnBig {
    public static void main(String[] args) throws Exception {
        HeaplabReport report = HeaplabReport.start(args);
        // attribution (heaplab's tail attribution) needs a runtime that stamps its wake-ups;
        // heaplab refuses attribution=on for the JVM before java starts.
        report.requireOff("attribution", report.word("attribution", "off"));
        HeaplabChurn.run(report,
                report.integer("processes", 10000),
                report.integer("entries", 1000),
                report.integer("rewrites", 1),
                report.integer("clients", 4),
                report.integer("requests", 50000));
    }
}
