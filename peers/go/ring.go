// ring.go: the `ring` workload of heaplab in Go (see docs/workloads.md), following
// peers/erlang/heaplab_ring.erl with a goroutine per member and a channel per mailbox.
//
// N goroutines form a ring and pass a token around it M times (N * M hops). Each hop is a new
// token holding K, the hops still to make, and the payload: nothing when `payload` is 0, else a
// list of `payload` integers built once (with `copies` C > 1, a list of C references to that
// list). A send passes a pointer: Go copies nothing, so unlike the BEAM the payload's size
// changes nothing but the live data.
//
// Protocol:
// 1. main starts the N members, member I knowing member I + 1 (the last knows member 0).
// 2. It builds the payload, starts the clock and sends member 1 the token K = N * M - 1; every
//    member that receives K > 0 sends K - 1 with the payload to its next member. After exactly
//    N * M hops member 0 receives 0 and tells main, which stops the clock.
// 3. A member other than 0 that receives K < N will not see the token again, so it returns
//    after forwarding it.
//
// Usage: heaplab-go ring processes=1000 laps=1000 payload=0 copies=1 time_split=off

package main

import (
	"fmt"
	"os"
	"time"
)

type token struct {
	k       int64
	payload *listCell
}

type listCell struct {
	head interface{}
	tail *listCell
}

func init() {
	register("ring", func(r *report) {
		n := r.integer("processes", 1000)
		m := r.integer("laps", 1000)
		p := r.integer("payload", 0)
		c := r.integer("copies", 1)
		// time_split (heaplab's mutator / send / GC split) needs a runtime that times its
		// sends; heaplab refuses time_split=on for Go before the program starts.
		if r.word("time_split", "off") != "off" {
			fmt.Fprintln(os.Stderr, "time_split=on is measured on heaplab's runtime only")
			os.Exit(2)
		}
		hops := n * m
		mailboxes := make([]chan *token, n)
		for i := range mailboxes {
			mailboxes[i] = make(chan *token, 1)
		}
		back := make(chan struct{})
		for i := int64(0); i < n; i++ {
			go member(i, n, mailboxes[i], mailboxes[(i+1)%n], back)
		}
		payload := ringPayload(p, c)
		t0 := time.Now()
		mailboxes[1%n] <- &token{hops - 1, payload}
		<-back
		elapsed := time.Since(t0)
		r.metric("ns_per_hop", float64(elapsed.Nanoseconds())/float64(hops))
		r.metric("hops", float64(hops))
	})
}

// ringPayload is nothing, a list of p integers, or c references to one.
func ringPayload(p, c int64) *listCell {
	if p == 0 {
		return nil
	}
	var list *listCell
	for i := p - 1; i >= 0; i-- {
		list = &listCell{i, list}
	}
	if c == 1 {
		return list
	}
	var copies *listCell
	for i := int64(0); i < c; i++ {
		copies = &listCell{list, copies}
	}
	return copies
}

// member is steps 2 and 3 for member index.
func member(index, n int64, mailbox <-chan *token, next chan<- *token, back chan<- struct{}) {
	for t := range mailbox {
		if t.k > 0 {
			next <- &token{t.k - 1, t.payload}
		} else {
			close(back)
			return
		}
		if index != 0 && t.k < n {
			return
		}
	}
}
