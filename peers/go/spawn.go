// spawn.go: the `spawn` workload of heaplab in Go (see docs/workloads.md), following
// peers/erlang/heaplab_spawn.erl: a process is a goroutine, its mailbox a channel.
//
// Protocol:
// 1. Baseline: the heap and the goroutine stacks in use after a collection (the channels'
//    slice is already allocated) and the resident set size (VmRSS).
// 2. Start N goroutines that each wait on their own channel for one message, timed:
//    spawn_ns_per_process.
// 3. Wait until every one has run up to its receive (each marks a wait group first), then
//    measure again: bytes_per_process is the growth of heap and stacks in use after a
//    collection per goroutine, rss_bytes_per_process the growth of VmRSS.
// 4. Send each a message and wait until every one has returned: exit_ns_per_process.
//
// The two collections (runtime.GC) of steps 1 and 3 are in the trace, and so in the run's
// pauses, as erlang:garbage_collect/0 is in the BEAM's.
//
// Usage: heaplab-go spawn processes=1000000

package main

import (
	"runtime"
	"sync"
	"time"
)

func init() {
	register("spawn", func(r *report) {
		n := r.integer("processes", 1000000)
		mailboxes := make([]chan struct{}, n)
		inUse := func() float64 {
			runtime.GC()
			var stats runtime.MemStats
			runtime.ReadMemStats(&stats)
			return float64(stats.HeapAlloc + stats.StackInuse)
		}
		mem0 := inUse()
		rss0 := procBytes("VmRSS:")
		var started, exited sync.WaitGroup
		started.Add(int(n))
		exited.Add(int(n))

		t0 := time.Now()
		for i := range mailboxes {
			mailbox := make(chan struct{}, 1)
			mailboxes[i] = mailbox
			go idle(mailbox, &started, &exited)
		}
		t1 := time.Now()

		started.Wait()
		mem1 := inUse()
		rss1 := procBytes("VmRSS:")

		t2 := time.Now()
		for i, mailbox := range mailboxes {
			mailbox <- struct{}{}
			mailboxes[i] = nil
		}
		exited.Wait()
		t3 := time.Now()

		count := float64(n)
		r.metric("spawn_ns_per_process", float64(t1.Sub(t0).Nanoseconds())/count)
		r.metric("bytes_per_process", (mem1-mem0)/count)
		r.metric("rss_bytes_per_process", (rss1-rss0)/count)
		r.metric("exit_ns_per_process", float64(t3.Sub(t2).Nanoseconds())/count)
	})
}

// idle waits for one message, then returns.
func idle(mailbox <-chan struct{}, started, exited *sync.WaitGroup) {
	started.Done()
	<-mailbox
	exited.Done()
}
