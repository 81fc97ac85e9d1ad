// SPDX-License-Identifier: GPL-2.0-only

// pipeliner is an HTTP/1.1 client that pipelines: on each of N connections it writes
// DEPTH requests in one write (or split into small writes, to make a server read a request
// piece by piece), then reads and checks DEPTH responses, ROUNDS times. It prints what it
// sent and what it got per (method, path, status) as one JSON object on stdout and exits
// non-zero unless every request got its response.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type options struct {
	addr       string
	conns      int
	depth      int
	rounds     int
	requests   []reqSpec
	split      int
	splitDelay time.Duration
	padHeader  int
	timeout    time.Duration
}

// reqSpec is one "METHOD PATH" of -requests; {placeholders} in PATH are replaced by a
// sequence number and the template itself is what the counts report (it matches a chi
// route pattern when written like one).
type reqSpec struct {
	method string
	path   string
}

var placeholder = regexp.MustCompile(`\{[^}]*\}`)

func parseFlags() (options, error) {
	var o options
	var reqs string
	flag.StringVar(&o.addr, "addr", "127.0.0.1:18080", "server host:port")
	flag.IntVar(&o.conns, "conns", 1, "connections, used concurrently")
	flag.IntVar(&o.depth, "depth", 10, "requests written in one write per round")
	flag.IntVar(&o.rounds, "rounds", 1, "rounds per connection")
	flag.StringVar(&reqs, "requests", "GET /api/v1/orders/{id}",
		"comma-separated \"METHOD PATH\" list, cycled over")
	flag.IntVar(&o.split, "split", 0, "write each round in pieces of this many bytes (0: one write)")
	flag.DurationVar(&o.splitDelay, "split-delay", time.Millisecond, "pause between pieces")
	flag.IntVar(&o.padHeader, "pad-header", 0, "add an X-Pad header of this many bytes")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "deadline of the whole run")
	flag.Parse()
	if o.conns < 1 || o.depth < 1 || o.rounds < 1 || o.split < 0 || o.padHeader < 0 {
		return o, fmt.Errorf("-conns, -depth and -rounds must be >= 1, -split and -pad-header >= 0")
	}
	for _, item := range strings.Split(reqs, ",") {
		f := strings.Fields(item)
		if len(f) != 2 || !strings.HasPrefix(f[1], "/") {
			return o, fmt.Errorf("bad -requests item %q: want \"METHOD /path\"", item)
		}
		o.requests = append(o.requests, reqSpec{method: strings.ToUpper(f[0]), path: f[1]})
	}
	return o, nil
}

type countKey struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status,omitempty"`
}

type tally struct {
	mu       sync.Mutex
	sent     map[countKey]int
	received map[countKey]int
	errors   []string
}

func (t *tally) add(sent, received map[countKey]int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, n := range sent {
		t.sent[k] += n
	}
	for k, n := range received {
		t.received[k] += n
	}
	if err != nil {
		t.errors = append(t.errors, err.Error())
	}
}

// buildRequest renders request number seq of the cycle, with a body for POST/PUT/PATCH.
func buildRequest(o options, spec reqSpec, seq int) []byte {
	path := placeholder.ReplaceAllString(spec.path, strconv.Itoa(seq))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sonde-pipeliner\r\n",
		spec.method, path, o.addr)
	if o.padHeader > 0 {
		fmt.Fprintf(&b, "X-Pad: %s\r\n", strings.Repeat("p", o.padHeader))
	}
	switch spec.method {
	case "POST", "PUT", "PATCH":
		body := fmt.Sprintf(`{"symbol":"ACME","qty":%d,"price":12.5}`, seq)
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			len(body), body)
	default:
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func writeRound(conn net.Conn, buf []byte, o options) error {
	if o.split == 0 {
		_, err := conn.Write(buf)
		return err
	}
	for off := 0; off < len(buf); off += o.split {
		end := off + o.split
		if end > len(buf) {
			end = len(buf)
		}
		if _, err := conn.Write(buf[off:end]); err != nil {
			return err
		}
		time.Sleep(o.splitDelay)
	}
	return nil
}

// runConn drives one connection; seq numbers start at base so connections differ.
func runConn(o options, base int, deadline time.Time, t *tally) {
	sent := map[countKey]int{}
	received := map[countKey]int{}
	err := func() error {
		conn, err := net.DialTimeout("tcp", o.addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		conn.SetDeadline(deadline)
		br := bufio.NewReader(conn)
		seq := base
		for round := 0; round < o.rounds; round++ {
			var buf bytes.Buffer
			specs := make([]reqSpec, 0, o.depth)
			for i := 0; i < o.depth; i++ {
				spec := o.requests[(seq-base)%len(o.requests)]
				buf.Write(buildRequest(o, spec, seq))
				specs = append(specs, spec)
				seq++
			}
			if err := writeRound(conn, buf.Bytes(), o); err != nil {
				return fmt.Errorf("round %d: write: %w", round, err)
			}
			for _, spec := range specs {
				sent[countKey{Method: spec.method, Path: spec.path}]++
			}
			for i, spec := range specs {
				resp, err := http.ReadResponse(br, &http.Request{Method: spec.method})
				if err != nil {
					return fmt.Errorf("round %d response %d: %w", round, i, err)
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					return fmt.Errorf("round %d response %d body: %w", round, i, err)
				}
				received[countKey{spec.method, spec.path, resp.StatusCode}]++
			}
		}
		return nil
	}()
	t.add(sent, received, err)
}

func sortedCounts(m map[countKey]int) []map[string]interface{} {
	keys := make([]countKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Method != b.Method {
			return a.Method < b.Method
		}
		return a.Status < b.Status
	})
	out := make([]map[string]interface{}, 0, len(keys))
	for _, k := range keys {
		row := map[string]interface{}{"method": k.Method, "path": k.Path, "count": m[k]}
		if k.Status != 0 {
			row["status"] = k.Status
		}
		out = append(out, row)
	}
	return out
}

func total(m map[countKey]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func main() {
	o, err := parseFlags()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pipeliner: %v\n", err)
		os.Exit(2)
	}
	t := &tally{sent: map[countKey]int{}, received: map[countKey]int{}}
	deadline := time.Now().Add(o.timeout)
	var wg sync.WaitGroup
	for c := 0; c < o.conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			runConn(o, 1+c*o.depth*o.rounds, deadline, t)
		}(c)
	}
	wg.Wait()

	nsent, nrecv := total(t.sent), total(t.received)
	out := map[string]interface{}{
		"connections": o.conns, "depth": o.depth, "rounds": o.rounds,
		"sent": nsent, "received": nrecv,
		"sent_by": sortedCounts(t.sent), "counts": sortedCounts(t.received),
		"errors": append([]string{}, t.errors...),
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
	if len(t.errors) > 0 || nsent != nrecv || nsent != o.conns*o.depth*o.rounds {
		os.Exit(1)
	}
}
