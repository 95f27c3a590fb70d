// large_state.go: the `large-state` workload of heaplab in Go (see docs/workloads.md),
// following peers/erlang/heaplab_large_state.erl. One goroutine holds a large live state and
// keeps rewriting part of it, while C clients time small requests to P small servers (the
// servers and clients of churn.go, built beside this file).
//
// Protocol:
// 1. main starts the large goroutine. It builds a state of StateMb * 2^20 / 80 entries
//    {I, V, [I, V]} (the entry count of the Erlang version, whose entries take 80 bytes; here
//    each takes entryBytes), says it is ready, then loops until told to stop: each step
//    rebuilds the first RewriteEntries entries of its state (new entries holding V+1 on new
//    cells, the rest of the list shared). Between steps it looks for the stop without waiting;
//    the runtime preempts it as the BEAM does.
// 2. main starts P small servers (churn servers with 10 entries doing 1 rewrite per request)
//    and waits for their states.
// 3. The clients run as in churn.go; their latencies are request_latency_us.
// 4. main tells the large goroutine to stop; it answers with the steps it made
//    (state_rewrites).
//
// Usage: heaplab-go large-state state_mb=64 rewrite_entries=10000 processes=1000 clients=4 requests=200000

package main

const (
	erlangEntryBytes = 80
	smallEntries     = 10
	smallRewrites    = 1
)

func init() {
	register("large-state", func(r *report) {
		// attribution (heaplab's tail attribution) needs a runtime that stamps its wake-ups;
		// heaplab refuses attribution=on for Go before the program starts.
		r.requireOff("attribution", r.word("attribution", "off"))
		c := r.integer("clients", 4)
		p := r.integer("processes", 1000)
		n := r.integer("requests", 200000)
		rewrite := r.integer("rewrite_entries", 10000)
		stateMb := r.integer("state_mb", 64)
		entries := (stateMb*1048576 + erlangEntryBytes - 1) / erlangEntryBytes

		ready := make(chan struct{})
		stop := make(chan chan int64)
		go large(entries, rewrite, ready, stop)
		<-ready
		servers := spawnServers(p, smallEntries, smallRewrites)
		samples, elapsed := runClients(servers, c, n)
		steps := make(chan int64)
		stop <- steps
		rewrites := <-steps

		r.metric("throughput_per_s", float64(n)/elapsed.Seconds())
		r.metric("state_bytes", float64(entries*entryBytes))
		r.metric("state_rewrites", float64(rewrites))
		r.samples["request_latency_us"] = samples
	})
}

// large is step 1.
func large(entries, rewrite int64, ready chan<- struct{}, stop <-chan chan int64) {
	state := build(entries)
	close(ready)
	var scratch []*entry
	steps := int64(0)
	for {
		select {
		case reply := <-stop:
			reply <- steps
			return
		default:
			state, scratch = rewritePrefix(state, rewrite, scratch)
			steps++
		}
	}
}
