// churn_big.go: the `churn-big` workload of heaplab in Go (see docs/workloads.md): churn
// (churn.go, built beside this file) with K = 1000, W = 1 and R = 50,000, about 720 MB of live
// states in Go's layout (72 bytes an entry).
//
// Usage: heaplab-go churn-big processes=10000 entries=1000 rewrites=1 clients=4 requests=50000

package main

func init() {
	register("churn-big", func(r *report) {
		// attribution (heaplab's tail attribution) needs a runtime that stamps its wake-ups;
		// heaplab refuses attribution=on for Go before the program starts.
		r.requireOff("attribution", r.word("attribution", "off"))
		runChurn(r,
			r.integer("processes", 10000),
			r.integer("entries", 1000),
			r.integer("rewrites", 1),
			r.integer("clients", 4),
			r.integer("requests", 50000))
	})
}
