// SPDX-License-Identifier: GPL-2.0-only

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gomodule/redigo/redis"
	"github.com/jackc/pgx/v4/pgxpool"
)

// backends are the optional dependencies of the orders handlers; nil members are skipped.
type backends struct {
	pg       *pgxpool.Pool
	redis    *redis.Pool
	upstream string
	client   *http.Client
}

func openBackends(ctx context.Context, o options) (*backends, error) {
	b := &backends{upstream: o.upstream}
	if o.pgDSN != "" {
		pool, err := pgxpool.Connect(ctx, o.pgDSN)
		if err != nil {
			return nil, fmt.Errorf("connect PostgreSQL: %w", err)
		}
		b.pg = pool
	}
	if o.redis != "" {
		addr := o.redis
		b.redis = &redis.Pool{
			MaxIdle:     64,
			IdleTimeout: time.Minute,
			Dial: func() (redis.Conn, error) {
				return redis.Dial("tcp", addr, redis.DialConnectTimeout(5*time.Second))
			},
		}
		conn := b.redis.Get()
		_, err := conn.Do("PING")
		conn.Close()
		if err != nil {
			b.close()
			return nil, fmt.Errorf("connect Redis %s: %w", addr, err)
		}
	}
	if o.upstream != "" {
		tr := &http.Transport{MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: false}
		// An https upstream with a test certificate: trust that certificate (an
		// environment variable, so both mains, plain and instrumented, get it).
		if ca := os.Getenv("TRADE_ENGINE_UPSTREAM_CA"); ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				b.close()
				return nil, fmt.Errorf("read TRADE_ENGINE_UPSTREAM_CA: %w", err)
			}
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				b.close()
				return nil, fmt.Errorf("TRADE_ENGINE_UPSTREAM_CA %s: no certificate", ca)
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: roots}
		}
		b.client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	}
	return b, nil
}

func (b *backends) close() {
	if b.pg != nil {
		b.pg.Close()
	}
	if b.redis != nil {
		b.redis.Close()
	}
}

// lookup runs the per-request backend calls: one SELECT and one GET when configured.
func (b *backends) lookup(ctx context.Context, id int64) (string, error) {
	source := "memory"
	if b.pg != nil {
		var got int64
		err := b.pg.QueryRow(ctx, "SELECT $1::bigint AS id", id).Scan(&got)
		if err != nil {
			return "", fmt.Errorf("postgres: %w", err)
		}
		source = "postgres"
	}
	if b.redis != nil {
		conn := b.redis.Get()
		defer conn.Close()
		_, err := redis.String(conn.Do("GET", "order:"+strconv.FormatInt(id, 10)))
		if err != nil && !errors.Is(err, redis.ErrNil) {
			return "", fmt.Errorf("redis: %w", err)
		}
		source += "+redis"
	}
	return source, nil
}

type order struct {
	ID     int64   `json:"id"`
	Symbol string  `json:"symbol"`
	Qty    int64   `json:"qty"`
	Price  float64 `json:"price"`
	Status string  `json:"status"`
	Source string  `json:"source,omitempty"`
}

type handlers struct {
	b      *backends
	nextID int64
}

func (h *handlers) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "ok\n")
}

func (h *handlers) getOrder(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		http.Error(w, "order id must be an integer", http.StatusBadRequest)
		return
	}
	source, err := h.b.lookup(r.Context(), id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, http.StatusOK, order{ID: id, Symbol: "ACME", Qty: 100, Price: 12.5,
		Status: "filled", Source: source})
}

func (h *handlers) postOrder(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	var o order
	if err := json.Unmarshal(body, &o); err != nil {
		http.Error(w, "body must be a JSON order: "+err.Error(), http.StatusBadRequest)
		return
	}
	o.ID = atomic.AddInt64(&h.nextID, 1)
	o.Status = "accepted"
	source, err := h.b.lookup(r.Context(), o.ID)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	o.Source = source
	w.Header().Set("Location", "/api/v1/orders/"+strconv.FormatInt(o.ID, 10))
	writeJSON(w, http.StatusCreated, o)
}

func (h *handlers) fail(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "order processing failed", http.StatusInternalServerError)
}

func (h *handlers) missing(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "no such thing", http.StatusNotFound)
}

func (h *handlers) slow(w http.ResponseWriter, r *http.Request) {
	time.Sleep(150 * time.Millisecond)
	writeJSON(w, http.StatusOK, map[string]string{"slept": "150ms"})
}

// chunked sends three parts with a flush after each: no Content-Length, so net/http
// uses Transfer-Encoding: chunked and each part leaves in its own write.
func (h *handlers) chunked(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	f, _ := w.(http.Flusher)
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(w, "part %d of 3\n", i)
		if f != nil {
			f.Flush()
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *handlers) empty(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

// quote calls the upstream service: an outbound HTTP client request per inbound one.
func (h *handlers) quote(w http.ResponseWriter, r *http.Request) {
	if h.b.client == nil {
		http.Error(w, "no -upstream configured", http.StatusServiceUnavailable)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet,
		h.b.upstream, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := h.b.client.Do(req)
	if err != nil {
		http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		http.Error(w, "upstream body: "+err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{
		"upstream_status": resp.StatusCode, "upstream_bytes": len(body)})
}
