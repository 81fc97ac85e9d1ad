// SPDX-License-Identifier: GPL-2.0-only

// trade-engine-instrumented is go/trade-engine (the same handlers and referee: handlers.go
// and referee.go are links to its files) with in-process instrumentation as a Go team would
// write it: a client_golang middleware counting http_requests_total and observing
// http_request_duration_seconds by method, chi route pattern and status, served on
// GET /metrics. The overhead benchmark (tests/bench) sets it beside the plain service
// observed by sonde: the two ways of getting the same metrics.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type options struct {
	addr     string
	pgDSN    string
	redis    string
	upstream string
	tlsCert  string
	tlsKey   string
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:18080",
		"listen address: 127.0.0.1:PORT, [::1]:PORT, or :PORT for dual-stack [::]")
	flag.StringVar(&o.pgDSN, "pg", "", "PostgreSQL DSN: orders handlers run one SELECT each")
	flag.StringVar(&o.redis, "redis", "", "Redis host:port: orders handlers run one GET each")
	flag.StringVar(&o.upstream, "upstream", "", "base URL that GET /api/v1/quote calls")
	flag.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate: serve HTTPS (HTTP/1.1 only)")
	flag.StringVar(&o.tlsKey, "tls-key", "", "PEM private key for -tls-cert")
	flag.Parse()
	return o
}

// The duration buckets sonde uses, so both expose the same histogram.
var durationBuckets = []float64{0, .005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5,
	5, 7.5, 10}

type instrumentation struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newInstrumentation(reg prometheus.Registerer) *instrumentation {
	in := &instrumentation{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by method, route and status.",
			Buckets: durationBuckets,
		}, []string{"method", "route", "status"}),
	}
	reg.MustRegister(in.requests, in.duration)
	return in
}

// middleware observes every request but the scrape itself once the handler returned (the
// route pattern is known only after chi routed the request).
func (in *instrumentation) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		route := ""
		if rctx := chi.RouteContext(r.Context()); rctx != nil {
			route = rctx.RoutePattern()
		}
		code := strconv.Itoa(status)
		in.requests.WithLabelValues(r.Method, route, code).Inc()
		in.duration.WithLabelValues(r.Method, route, code).Observe(
			time.Since(start).Seconds())
	})
}

func main() {
	o := parseFlags()
	log.SetFlags(log.Lmicroseconds)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	b, err := openBackends(ctx, o)
	cancel()
	if err != nil {
		log.Fatalf("trade-engine-instrumented: %v", err)
	}
	defer b.close()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		log.Fatalf("trade-engine-instrumented: listen %s: %v", o.addr, err)
	}
	in := newInstrumentation(prometheus.DefaultRegisterer)
	srv := &http.Server{
		Handler:           newRouter(newReferee(), in, b),
		ReadHeaderTimeout: 30 * time.Second,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	// The harness reads this line to learn the port when -addr asked for port 0.
	fmt.Printf("listening %s\n", ln.Addr())
	os.Stdout.Sync()

	done := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			done <- srv.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			done <- srv.Serve(ln)
		}
	}()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigs:
		log.Printf("trade-engine-instrumented: %v, shutting down", sig)
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Printf("trade-engine-instrumented: shutdown: %v", err)
		}
	case err := <-done:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("trade-engine-instrumented: serve: %v", err)
		}
	}
}

// newRouter is go/trade-engine's router plus the instrumentation middleware and /metrics.
func newRouter(ref *referee, in *instrumentation, b *backends) http.Handler {
	h := &handlers{b: b}
	r := chi.NewRouter()
	r.Use(ref.middleware)
	r.Use(in.middleware)

	r.Get("/healthz", h.healthz)
	r.Get("/referee", ref.serve)
	r.Post("/referee/reset", ref.reset)
	r.Handle("/metrics", promhttp.Handler())

	r.Get("/api/v1/orders/{id}", h.getOrder)
	r.Head("/api/v1/orders/{id}", h.getOrder)
	r.Post("/api/v1/orders", h.postOrder)
	r.Get("/api/v1/orders/{id}/fail", h.fail)
	r.Get("/api/v1/missing/{id}", h.missing)
	r.Get("/api/v1/slow", h.slow)
	r.Get("/api/v1/chunked", h.chunked)
	r.Get("/api/v1/empty", h.empty)
	r.Get("/api/v1/quote", h.quote)
	return r
}
