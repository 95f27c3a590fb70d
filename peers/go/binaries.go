// binaries.go: the `binaries` workload of heaplab in Go (see docs/workloads.md), following
// peers/erlang/heaplab_binaries.erl. Producers send byte slices of S bytes through a router
// goroutine to consumers that keep the last Keep they got, for a sweep of sizes S. A send
// passes a slice header: the only copy of the bytes is the one a producer makes of its
// template.
//
// Protocol:
// 1. main starts C consumers, the router (which knows the consumers) and P producers (which
//    know the router). Each producer holds a template of MaxBytes bytes.
// 2. The sweep: Sizes sizes, halving from MaxBytes (sizes below one byte are left out),
//    smallest first. For each size S main starts the clock and asks producer I for N_I
//    messages of S bytes (N_I: Messages / P, plus one if I < Messages mod P).
// 3. A producer sends the router N_I messages {Self, Bytes}, each Bytes a new slice holding the
//    first S bytes of its template, with at most 16 unacknowledged: past that it waits for an
//    acknowledgement first. Then it waits for its last acknowledgements and reports done.
// 4. The router forwards each message, unchanged, to the consumers in turn.
// 5. A consumer keeps the slice among the last Keep it got and acknowledges the message.
// 6. main stops the clock when every producer is done: throughput_<S>b_per_s.
//
// Usage: heaplab-go binaries max_bytes=1048576 sizes=11 messages=10000 producers=2 consumers=2 keep=100

package main

import (
	"fmt"
	"sort"
	"time"
)

const window = 16

type binMessage struct {
	acks  chan<- struct{}
	bytes []byte
}

type produce struct {
	size  int64
	count int64
	done  chan<- struct{}
}

func init() {
	register("binaries", func(r *report) {
		consumers := r.integer("consumers", 2)
		keep := r.integer("keep", 100)
		maxBytes := r.integer("max_bytes", 1048576)
		messages := r.integer("messages", 10000)
		producers := r.integer("producers", 2)
		sizes := r.integer("sizes", 11)

		seen := map[int64]bool{}
		var sweep []int64
		for h := int64(0); h < sizes && h < 63; h++ {
			if s := maxBytes >> h; s > 0 && !seen[s] {
				seen[s] = true
				sweep = append(sweep, s)
			}
		}
		sort.Slice(sweep, func(i, j int) bool { return sweep[i] < sweep[j] })

		consumerBoxes := make([]chan binMessage, consumers)
		for i := range consumerBoxes {
			consumerBoxes[i] = make(chan binMessage, window)
			go consumer(consumerBoxes[i], keep)
		}
		router := make(chan binMessage, window)
		go route(router, consumerBoxes)
		template := make([]byte, maxBytes)
		for i := range template {
			template[i] = byte(i)
		}
		producerBoxes := make([]chan produce, producers)
		for i := range producerBoxes {
			producerBoxes[i] = make(chan produce, 1)
			go producer(producerBoxes[i], router, template)
		}

		var allNs int64
		for _, s := range sweep {
			done := make(chan struct{}, producers)
			t0 := time.Now()
			for i, box := range producerBoxes {
				box <- produce{s, quota(messages, producers, int64(i)), done}
			}
			for range producerBoxes {
				<-done
			}
			ns := time.Since(t0).Nanoseconds()
			allNs += ns
			r.metric(fmt.Sprintf("throughput_%db_per_s", s), float64(messages)/(float64(ns)/1e9))
		}
		all := messages * int64(len(sweep))
		r.metric("throughput_per_s", float64(all)/(float64(allNs)/1e9))
		r.metric("messages", float64(all))
	})
}

// producer is step 3.
func producer(mailbox <-chan produce, router chan<- binMessage, template []byte) {
	acks := make(chan struct{}, window)
	for job := range mailbox {
		inFlight := 0
		for n := int64(0); n < job.count; n++ {
			if inFlight == window {
				<-acks
				inFlight--
			}
			bytes := make([]byte, job.size)
			copy(bytes, template[:job.size])
			router <- binMessage{acks, bytes}
			inFlight++
		}
		for ; inFlight > 0; inFlight-- {
			<-acks
		}
		job.done <- struct{}{}
	}
}

// route is step 4.
func route(mailbox <-chan binMessage, consumers []chan binMessage) {
	next := 0
	for message := range mailbox {
		consumers[next] <- message
		next = (next + 1) % len(consumers)
	}
}

// consumer is step 5.
func consumer(mailbox <-chan binMessage, keep int64) {
	kept := make([][]byte, 0, keep+1)
	for message := range mailbox {
		kept = append([][]byte{message.bytes}, kept...)
		if int64(len(kept)) > keep {
			kept = kept[:keep]
		}
		message.acks <- struct{}{}
	}
}
