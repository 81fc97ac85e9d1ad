// SPDX-License-Identifier: GPL-2.0-only

package main

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

// refereeKey is one series of the ground truth: what sonde's http_request_method,
// http_route and http_response_status_code labels should say.
type refereeKey struct {
	Method string `json:"method"`
	Route  string `json:"route"`
	Status int    `json:"status"`
}

// HandlerNs sums the time the handlers took (monotonic clock): a span that sonde's duration
// of each exchange, from the request's first byte read to the response's last byte
// written, contains.
type refereeCount struct {
	refereeKey
	Count     uint64 `json:"count"`
	HandlerNs uint64 `json:"handler_ns"`
}

type referee struct {
	mu     sync.Mutex
	counts map[refereeKey]uint64
	nanos  map[refereeKey]uint64
}

func newReferee() *referee {
	return &referee{counts: make(map[refereeKey]uint64), nanos: make(map[refereeKey]uint64)}
}

// statusWriter remembers the status a handler sent. It keeps http.Flusher visible, or the
// chunked handler could not flush through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// middleware counts every request except the referee's own. It counts after the handler
// returns but before net/http finishes the response: an unflushed response is still in the
// server's buffer, and a flushed (chunked) one still lacks its last chunk, so a client that
// has read a complete response always finds it counted.
func (ref *referee) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/referee" || strings.HasPrefix(r.URL.Path, "/referee/") {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(sw, r)
		took := time.Since(start)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		route := ""
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			route = rctx.RoutePattern()
		}
		key := refereeKey{Method: r.Method, Route: route, Status: status}
		ref.mu.Lock()
		ref.counts[key]++
		ref.nanos[key] += uint64(took)
		ref.mu.Unlock()
	})
}

func (ref *referee) snapshot() []refereeCount {
	ref.mu.Lock()
	out := make([]refereeCount, 0, len(ref.counts))
	for k, n := range ref.counts {
		out = append(out, refereeCount{refereeKey: k, Count: n, HandlerNs: ref.nanos[k]})
	}
	ref.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Route != b.Route {
			return a.Route < b.Route
		}
		if a.Method != b.Method {
			return a.Method < b.Method
		}
		return a.Status < b.Status
	})
	return out
}

func (ref *referee) serve(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]interface{}{"counts": ref.snapshot()})
}

func (ref *referee) reset(w http.ResponseWriter, r *http.Request) {
	ref.mu.Lock()
	ref.counts = make(map[refereeKey]uint64)
	ref.nanos = make(map[refereeKey]uint64)
	ref.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]interface{}{"counts": []refereeCount{}})
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
