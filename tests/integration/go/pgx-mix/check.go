// SPDX-License-Identifier: GPL-2.0-only

package main

// -mode check plays the service of issue 15: -clients goroutines share a pgxpool of
// -clients connections and issue -requests "INSERT ... RETURNING id" in all, the i-th with
// the value (37 i) mod 100; values below 15 violate the table's CHECK constraint (23514).
// The table (-table, columns id serial primary key, v int CHECK (v >= 15)) must exist.
//
// With -named, each connection prepares the INSERT as the named statement "insert_check"
// when it opens (AfterConnect), and the requests execute it by name. With -listen, the
// program listens on that address once the pool is open (pgxpool opens one connection
// then) and starts when a client connects and sends a byte: a port= rule selects it at
// the listen, after that first connection's start and Parse.
//
// Output (stdout, JSON): "ops" as in the mix; "prepares": the Prepare round trips an
// observer of the process since the listen sees (one per connection opened since, with
// -named; else one per connection used, made at its first request); "unnamed": failures
// on connections opened before the listen that came before the statement's first success
// on that connection (with -named: nothing an observer saw names them).

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

const checkStmt = "insert_check"

type check struct {
	clients, requests int
	named             bool
	listen            string

	mu        sync.Mutex
	listening bool
	early     map[*pgx.Conn]bool // opened before the listen
	succeeded map[*pgx.Conn]bool // the INSERT succeeded on it at least once
	used      map[*pgx.Conn]bool
	opened    int // connections opened since the listen
	c         *counts
	err       error
}

func (k *check) afterConnect(sql string) func(context.Context, *pgx.Conn) error {
	return func(ctx context.Context, conn *pgx.Conn) error {
		k.mu.Lock()
		k.early[conn] = !k.listening
		if k.listening {
			k.opened++
		}
		k.mu.Unlock()
		if !k.named {
			return nil
		}
		_, err := conn.Prepare(ctx, checkStmt, sql)
		return err
	}
}

// waitStart listens on k.listen and returns once a client connected and sent a byte.
func (k *check) waitStart() error {
	ln, err := net.Listen("tcp", k.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Fprintf(os.Stderr, "pgx-mix: listening on %s\n", ln.Addr())
	k.mu.Lock()
	k.listening = true
	k.mu.Unlock()
	conn, err := ln.Accept()
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Read(make([]byte, 1))
	return err
}

func (k *check) note(conn *pgx.Conn, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.used[conn] = true
	if err != nil && k.named && k.early[conn] && !k.succeeded[conn] {
		k.c.Unnamed++
	}
	if err == nil {
		k.succeeded[conn] = true
	}
	if e := k.c.op("INSERT", err); e != nil && k.err == nil {
		k.err = e
	}
}

func (k *check) client(ctx context.Context, pool *pgxpool.Pool, query string, g int) {
	for i := g; i < k.requests; i += k.clients {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			k.mu.Lock()
			k.err = err
			k.mu.Unlock()
			return
		}
		var id int
		err = conn.QueryRow(ctx, query, (i*37)%100).Scan(&id)
		k.note(conn.Conn(), err)
		conn.Release()
	}
}

func (k *check) run(ctx context.Context, dsn, table string) (*counts, error) {
	k.c = &counts{Ops: map[string]int{}}
	k.early = map[*pgx.Conn]bool{}
	k.succeeded = map[*pgx.Conn]bool{}
	k.used = map[*pgx.Conn]bool{}
	k.listening = k.listen == ""
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = int32(k.clients)
	sql := fmt.Sprintf("INSERT INTO %s (v) VALUES ($1) RETURNING id", table)
	cfg.AfterConnect = k.afterConnect(sql)
	pool, err := pgxpool.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if k.listen != "" {
		if err := k.waitStart(); err != nil {
			return nil, err
		}
	}
	query := sql
	if k.named {
		query = checkStmt
	}
	var wg sync.WaitGroup
	for g := 0; g < k.clients; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			k.client(ctx, pool, query, g)
		}(g)
	}
	wg.Wait()
	if k.named {
		k.c.Prepares = k.opened
	} else {
		k.c.Prepares = len(k.used)
	}
	return k.c, k.err
}
