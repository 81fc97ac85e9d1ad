// SPDX-License-Identifier: GPL-2.0-only

// trade-engine is the Go HTTP service the integration tests observe: net/http with chi v5
// routes, optional PostgreSQL (pgx v4) and Redis (redigo) backends and an optional upstream
// HTTP dependency. A "referee" middleware counts what the service itself served, so tests
// compare sonde's metrics with the ground truth, not with what a load generator believes.
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
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
)

type options struct {
	addr     string
	pgDSN    string
	redis    string
	upstream string
	tlsCert  string
	tlsKey   string
	h2       bool
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:18080",
		"listen address: 127.0.0.1:PORT, [::1]:PORT, or :PORT for dual-stack [::]")
	flag.StringVar(&o.pgDSN, "pg", "", "PostgreSQL DSN: orders handlers run one SELECT each")
	flag.StringVar(&o.redis, "redis", "", "Redis host:port: orders handlers run one GET each")
	flag.StringVar(&o.upstream, "upstream", "", "base URL that GET /api/v1/quote calls")
	flag.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate: serve HTTPS (HTTP/1.1 only unless -h2)")
	flag.StringVar(&o.tlsKey, "tls-key", "", "PEM private key for -tls-cert")
	flag.BoolVar(&o.h2, "h2", false, "with -tls-cert: keep net/http's default TLSNextProto "+
		"(HTTP/2 offered by ALPN)")
	flag.Parse()
	return o
}

func main() {
	o := parseFlags()
	log.SetFlags(log.Lmicroseconds)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	b, err := openBackends(ctx, o)
	cancel()
	if err != nil {
		log.Fatalf("trade-engine: %v", err)
	}
	defer b.close()

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		log.Fatalf("trade-engine: listen %s: %v", o.addr, err)
	}
	srv := &http.Server{
		Handler:           newRouter(newReferee(), b),
		ReadHeaderTimeout: 30 * time.Second,
	}
	if !o.h2 {
		// An empty map disables HTTP/2 over TLS: the tests speak HTTP/1.1 unless -h2.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
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
		log.Printf("trade-engine: %v, shutting down", sig)
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Printf("trade-engine: shutdown: %v", err)
		}
	case err := <-done:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("trade-engine: serve: %v", err)
		}
	}
}

func newRouter(ref *referee, b *backends) http.Handler {
	h := &handlers{b: b}
	r := chi.NewRouter()
	r.Use(ref.middleware)

	r.Get("/healthz", h.healthz)
	r.Get("/referee", ref.serve)
	r.Post("/referee/reset", ref.reset)

	r.Get("/api/v1/orders/{id}", h.getOrder)
	// chi routes HEAD only where asked to: same handler, net/http drops the body.
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
