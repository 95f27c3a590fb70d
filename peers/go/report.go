// report.go: what every Go version of a heaplab workload shares: the workloads by name (each
// file registers its own), its parameters from the command line, memory figures from /proc
// and the one line of JSON that heaplab parses (heaplab's peer protocol, src/peer.rs).
//
// The line: an object of metric names to numbers, plus "samples" (histogram names to arrays of
// raw values in nanoseconds, so heaplab builds real histograms) and "peer" (the runtime, its
// version and "wall_ns": the time from main's start to the line). Collections are not in the
// line: heaplab reads the pauses from the runtime's own trace (GODEBUG=gctrace=1, on standard
// error).
//
// Usage: heaplab-go WORKLOAD NAME=VALUE... (GOMAXPROCS: heaplab's --schedulers)

package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// report holds a run's parameters, metrics and samples.
type report struct {
	params  map[string]string
	metrics map[string]float64
	samples map[string][]int64
	start   time.Time
}

var workloads = map[string]func(*report){}

// register makes workload name runnable by main.
func register(name string, run func(*report)) {
	workloads[name] = run
}

func main() {
	start := time.Now()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: heaplab-go WORKLOAD NAME=VALUE...")
		os.Exit(2)
	}
	run, ok := workloads[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown workload '%s'\n", os.Args[1])
		os.Exit(2)
	}
	r := &report{params: map[string]string{}, metrics: map[string]float64{}, samples: map[string][]int64{}, start: start}
	for _, arg := range os.Args[2:] {
		eq := strings.IndexByte(arg, '=')
		if eq <= 0 {
			fmt.Fprintf(os.Stderr, "expected NAME=VALUE, got '%s'\n", arg)
			os.Exit(2)
		}
		r.params[arg[:eq]] = arg[eq+1:]
	}
	run(r)
	r.print()
}

// integer is integer parameter name, def when not given (heaplab always gives every one).
func (r *report) integer(name string, def int64) int64 {
	text, ok := r.params[name]
	if !ok {
		return def
	}
	value, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "parameter %s: %v\n", name, err)
		os.Exit(2)
	}
	return value
}

// word is word parameter name, def when not given.
// requireOff ends the program (exit 2) if a parameter that only heaplab's runtime measures
// is on; heaplab refuses such a run before starting the program, so this is a second guard.
func (r *report) requireOff(name string, value string) {
	if value != "off" {
		fmt.Fprintf(os.Stderr, "%s=on is measured on heaplab's runtime only\n", name)
		os.Exit(2)
	}
}

func (r *report) word(name string, def string) string {
	if text, ok := r.params[name]; ok {
		return text
	}
	return def
}

func (r *report) metric(name string, value float64) {
	r.metrics[name] = value
}

// procBytes is a "Name:  value kB" line of /proc/self/status in bytes; 0 where there is none.
func procBytes(name string) float64 {
	file, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, name) {
			fields := strings.Fields(line[len(name):])
			if len(fields) > 0 {
				kb, _ := strconv.ParseFloat(fields[0], 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// random is splitmix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014; the generator of Java's SplittableRandom): 8 bytes of state, where
// math/rand's source holds 4.9 KB, which ten thousand servers would add to the live data.
type random struct {
	state uint64
}

func newRandom(seed int64) *random {
	return &random{uint64(seed)}
}

func (r *random) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn is uniform in 0..n-1 (n > 0; the modulo bias is below 2^-40 for n below 2^24).
func (r *random) intn(n int64) int64 {
	return int64(r.next() % uint64(n))
}

// quota is the requests of client i of c, n in all: n / c, plus one if i < n mod c.
func quota(n, c, i int64) int64 {
	q := n / c
	if i < n%c {
		q++
	}
	return q
}

func number(value float64) string {
	if value != value || value > 1e300 || value < -1e300 {
		return "0"
	}
	if value == float64(int64(value)) && value < 1e15 && value > -1e15 {
		return strconv.FormatInt(int64(value), 10)
	}
	return strconv.FormatFloat(value, 'g', -1, 64)
}

// print writes the line, with peak_rss_bytes.
func (r *report) print() {
	r.metric("peak_rss_bytes", procBytes("VmHWM:"))
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	out.WriteString("{")
	names := make([]string, 0, len(r.metrics))
	for name := range r.metrics {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(out, "%q:%s,", name, number(r.metrics[name]))
	}
	out.WriteString("\"samples\":{")
	first := true
	for name, values := range r.samples {
		if !first {
			out.WriteString(",")
		}
		first = false
		fmt.Fprintf(out, "%q:[", name)
		for i, v := range values {
			if i > 0 {
				out.WriteString(",")
			}
			out.WriteString(strconv.FormatInt(v, 10))
		}
		out.WriteString("]")
	}
	fmt.Fprintf(out, "},\"peer\":{\"runtime\":\"go\",\"go_version\":%q,\"wall_ns\":%d}}\n",
		runtime.Version(), time.Since(r.start).Nanoseconds())
	out.Flush()
}
