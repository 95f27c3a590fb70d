// churn.go: the `churn` workload of heaplab in Go (see docs/workloads.md), and the servers,
// clients and states that churn_big.go and large_state.go share. It follows the steps of
// peers/erlang/heaplab_churn.erl with goroutines for processes and channels for mailboxes.
//
// P server goroutines each hold a state of K entries {I, V, [I, V]}: a linked list of cells
// whose heads are entries, each entry holding I, V and a two-cell list of I and V. A request
// makes a server rewrite W random entries: each rewrite rebuilds the whole state list on new
// cells (the entry whose key matches becomes a new entry holding V+1, the others are reused),
// as the Erlang list comprehension does; the server replies with the state's length. C
// closed-loop client goroutines make R requests in all to uniformly random servers and time
// each reply.
//
// Protocol:
// 1. main starts the P servers (server S seeds its generator with S); each builds its state
//    (keys counting down from K - 1 to 0, values 0) and says it is ready. main waits for all P.
// 2. It starts the C clients; client I gets R / C requests, plus one if I < R mod C, and waits
//    for the go. main starts the clock and closes the go channel.
// 3. Per request a client picks a server uniformly at random, reads the clock, sends the server
//    its reply channel, waits for the reply (an integer) and keeps the time to it.
// 4. A server, per request: W times, picks a key uniformly in 0..K-1 and rewrites the state for
//    it; then sends the state's length on the client's reply channel.
// 5. main stops the clock once every client is done.
//
// Usage: heaplab-go churn processes=10000 entries=100 rewrites=4 clients=4 requests=200000

package main

import (
	"sync"
	"time"
)

// entryBytes is the size of one entry: the list cell (16), the entry (24) and the two cells
// of [I, V] (16 each), each an allocation of Go's size classes.
const entryBytes = 72

func init() {
	register("churn", func(r *report) {
		// attribution (heaplab's tail attribution) needs a runtime that stamps its wake-ups;
		// heaplab refuses attribution=on for Go before the program starts.
		r.requireOff("attribution", r.word("attribution", "off"))
		runChurn(r,
			r.integer("processes", 10000),
			r.integer("entries", 100),
			r.integer("rewrites", 4),
			r.integer("clients", 4),
			r.integer("requests", 200000))
	})
}

// runChurn is the whole workload with its parameters (churn-big runs it with its defaults).
func runChurn(r *report, p, k, w, c, n int64) {
	servers := spawnServers(p, k, w)
	samples, elapsed := runClients(servers, c, n)
	r.metric("throughput_per_s", float64(n)/elapsed.Seconds())
	r.metric("live_bytes", float64(p*k*entryBytes))
	r.samples["request_latency_us"] = samples
}

type intCell struct {
	head int64
	tail *intCell
}

type entry struct {
	key, value int64
	pair       *intCell
}

type cell struct {
	head *entry
	tail *cell
}

func newEntry(key, value int64) *entry {
	return &entry{key: key, value: value, pair: &intCell{key, &intCell{value, nil}}}
}

// build is a state of K entries, keys counting down from K - 1 to 0 (each consed on the front).
func build(k int64) *cell {
	var state *cell
	for i := int64(0); i < k; i++ {
		state = &cell{newEntry(i, 0), state}
	}
	return state
}

func length(state *cell) int64 {
	n := int64(0)
	for c := state; c != nil; c = c.tail {
		n++
	}
	return n
}

// bump is the state on new cells, the entry of key holding V+1; scratch holds the entries
// while the list is rebuilt back to front.
func bump(state *cell, key int64, scratch []*entry) (*cell, []*entry) {
	scratch = scratch[:0]
	for c := state; c != nil; c = c.tail {
		e := c.head
		if e.key == key {
			e = newEntry(key, e.value+1)
		}
		scratch = append(scratch, e)
	}
	var rebuilt *cell
	for i := len(scratch) - 1; i >= 0; i-- {
		rebuilt = &cell{scratch[i], rebuilt}
		scratch[i] = nil
	}
	return rebuilt, scratch
}

// rewritePrefix replaces the first n entries by entries holding V+1 on new cells; the rest
// is shared.
func rewritePrefix(state *cell, n int64, scratch []*entry) (*cell, []*entry) {
	scratch = scratch[:0]
	rest := state
	for int64(len(scratch)) < n && rest != nil {
		scratch = append(scratch, newEntry(rest.head.key, rest.head.value+1))
		rest = rest.tail
	}
	for i := len(scratch) - 1; i >= 0; i-- {
		rest = &cell{scratch[i], rest}
		scratch[i] = nil
	}
	return rest, scratch
}

// server is one server's mailbox: requests are reply channels.
type server chan chan int64

// spawnServers is step 1: P servers of K entries doing W rewrites per request, once every
// state is built.
func spawnServers(p, k, w int64) []server {
	servers := make([]server, p)
	var ready sync.WaitGroup
	ready.Add(int(p))
	for s := int64(0); s < p; s++ {
		mailbox := make(server, 16)
		servers[s] = mailbox
		go serve(mailbox, s, k, w, &ready)
	}
	ready.Wait()
	return servers
}

// serve is steps 1 and 4 for one server.
func serve(mailbox server, seed, k, w int64, ready *sync.WaitGroup) {
	random := newRandom(seed)
	state := build(k)
	ready.Done()
	var scratch []*entry
	for reply := range mailbox {
		for i := int64(0); i < w; i++ {
			state, scratch = bump(state, random.intn(k), scratch)
		}
		reply <- length(state)
	}
}

// runClients is steps 2, 3 and 5: every request's latency in nanoseconds, and the time from
// the go to the last client done.
func runClients(servers []server, c, n int64) ([]int64, time.Duration) {
	gate := make(chan struct{})
	var done sync.WaitGroup
	done.Add(int(c))
	samples := make([][]int64, c)
	for i := int64(0); i < c; i++ {
		mine := make([]int64, quota(n, c, i))
		samples[i] = mine
		go func(index int64) {
			random := newRandom(index + 1)
			reply := make(chan int64, 1)
			<-gate
			for j := range mine {
				target := servers[random.intn(int64(len(servers)))]
				t0 := time.Now()
				target <- reply
				<-reply
				mine[j] = time.Since(t0).Nanoseconds()
			}
			done.Done()
		}(i)
	}
	t0 := time.Now()
	close(gate)
	done.Wait()
	elapsed := time.Since(t0)
	all := make([]int64, 0, n)
	for _, mine := range samples {
		all = append(all, mine...)
	}
	return all, elapsed
}
