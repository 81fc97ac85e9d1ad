// SPDX-License-Identifier: GPL-2.0-only

// pgx-mix is a PostgreSQL client (pgx v4, one connection, the default statement cache)
// that issues a fixed mix of operations: prepared INSERT/SELECT/UPDATE, unique violations
// (23505) outside and inside transactions, simple-protocol statements, a multi-statement
// simple Query, a 50-statement batch (one Sync), a batch cut short by an error, and an
// undefined table (42P01). It prints what it issued as one JSON object on stdout:
//
//	{"ops": {"INSERT": 3, "INSERT 23505": 2, ...}, "prepares": N, "skipped": N}
//
// "ops" keys are the operation name, then the SQLSTATE when the server answered with an
// error. "prepares" counts the round trips pgx makes to prepare a statement (Parse +
// Describe + Sync, one per distinct SQL text sent with the extended protocol: the cache
// holds 512). "skipped" counts batch statements the server skipped after an error.
// The table (-table, columns k int primary key, v text) must exist and be empty.
//
// -mode check plays a service with a pool instead: see check.go.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

type counts struct {
	Ops      map[string]int `json:"ops"`
	Prepares int            `json:"prepares"`
	Skipped  int            `json:"skipped"`
	// check mode: failures on connections opened before -listen, before the statement
	// once succeeded there (see check.go)
	Unnamed  int `json:"unnamed"`
	prepared map[string]bool
}

func (c *counts) op(name string, err error) error {
	key := name
	if err != nil {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) {
			return fmt.Errorf("%s: not a server error: %w", name, err)
		}
		key += " " + pgErr.Code
	}
	c.Ops[key]++
	return nil
}

// extended notes a statement pgx sends with the extended protocol: the first time on this
// connection, pgx prepares it in a round trip of its own.
func (c *counts) extended(sql string) {
	if !c.prepared[sql] {
		c.prepared[sql] = true
		c.Prepares++
	}
}

// expect checks that err is nil (code "") or a server error with that SQLSTATE.
func expect(what string, err error, code string) error {
	var pgErr *pgconn.PgError
	switch {
	case code == "" && err == nil:
		return nil
	case code != "" && errors.As(err, &pgErr) && pgErr.Code == code:
		return nil
	}
	return fmt.Errorf("%s: want SQLSTATE %q, got %v", what, code, err)
}

func run(ctx context.Context, dsn, table string, rounds int) (*counts, error) {
	c := &counts{Ops: map[string]int{}, prepared: map[string]bool{}}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())

	ins := fmt.Sprintf("INSERT INTO %s (k, v) VALUES ($1, $2)", table)
	sel := fmt.Sprintf("SELECT v FROM %s WHERE k = $1", table)
	upd := fmt.Sprintf("UPDATE %s SET v = $2 WHERE k = $1", table)
	cnt := fmt.Sprintf("SELECT count(*) FROM %s WHERE k >= $1", table)

	step := func(op, sql string, code string, f func() error) error {
		if sql != "" {
			c.extended(sql)
		}
		err := f()
		if e := expect(op+" "+sql, err, code); e != nil {
			return e
		}
		return c.op(op, err)
	}
	exec := func(op, sql, code string, args ...interface{}) error {
		ext := sql
		if len(args) == 0 {
			ext = "" // pgx v4 sends Exec without arguments as a simple Query
		}
		return step(op, ext, code, func() error {
			_, err := conn.Exec(ctx, sql, args...)
			return err
		})
	}

	for i := 0; i < rounds; i++ {
		if err := exec("INSERT", ins, "", i, "x"); err != nil {
			return nil, err
		}
		if err := exec("INSERT", ins, "23505", i, "dup"); err != nil {
			return nil, err
		}
		err := step("SELECT", sel, "", func() error {
			var v string
			return conn.QueryRow(ctx, sel, i).Scan(&v)
		})
		if err != nil {
			return nil, err
		}
		if err := exec("UPDATE", upd, "", i, "y"); err != nil {
			return nil, err
		}
		// A unique violation inside a transaction, rolled back.
		tx, err := conn.Begin(ctx)
		if e := expect("begin", err, ""); e != nil {
			return nil, e
		}
		c.op("BEGIN", nil)
		c.extended(ins)
		_, err = tx.Exec(ctx, ins, i, "dup")
		if e := expect("insert in tx", err, "23505"); e != nil {
			return nil, e
		}
		c.op("INSERT", err)
		if e := expect("rollback", tx.Rollback(ctx), ""); e != nil {
			return nil, e
		}
		c.op("ROLLBACK", nil)
		// A committed transaction.
		tx, err = conn.Begin(ctx)
		if e := expect("begin", err, ""); e != nil {
			return nil, e
		}
		c.op("BEGIN", nil)
		c.extended(upd)
		_, err = tx.Exec(ctx, upd, i, "t")
		if e := expect("update in tx", err, ""); e != nil {
			return nil, e
		}
		c.op("UPDATE", nil)
		if e := expect("commit", tx.Commit(ctx), ""); e != nil {
			return nil, e
		}
		c.op("COMMIT", nil)
		if err := exec("DELETE", fmt.Sprintf("DELETE FROM %s WHERE k < 0", table), ""); err != nil {
			return nil, err
		}
	}

	// 50 statements in one batch: one Sync, answered by one ReadyForQuery. cnt is new on
	// this connection, so pgx prepares it first (the other three are cached).
	b := &pgx.Batch{}
	var kinds []string
	for j := 0; j < 50; j++ {
		k := 1000 + j
		switch j % 5 {
		case 0, 1, 2:
			b.Queue(ins, k, "b")
			kinds = append(kinds, "INSERT")
			c.extended(ins)
		case 3:
			b.Queue(upd, k-1, "u")
			kinds = append(kinds, "UPDATE")
			c.extended(upd)
		case 4:
			b.Queue(cnt, 1000)
			kinds = append(kinds, "SELECT")
			c.extended(cnt)
		}
	}
	br := conn.SendBatch(ctx, b)
	for j, kind := range kinds {
		_, err := br.Exec()
		if e := expect(fmt.Sprintf("batch statement %d", j), err, ""); e != nil {
			br.Close()
			return nil, e
		}
		c.op(kind, nil)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("batch close: %w", err)
	}

	// A batch of 10 INSERTs whose 5th violates the primary key: 4 executed (then rolled
	// back with the implicit transaction), 1 failed, 5 skipped by the server until Sync.
	b = &pgx.Batch{}
	for j := 0; j < 10; j++ {
		k := 2000 + j
		if j == 4 {
			k = 0
		}
		b.Queue(ins, k, "e")
	}
	br = conn.SendBatch(ctx, b)
	for j := 0; j < 10; j++ {
		_, err := br.Exec()
		switch {
		case j < 4:
			if e := expect(fmt.Sprintf("error batch %d", j), err, ""); e != nil {
				br.Close()
				return nil, e
			}
			c.op("INSERT", nil)
		case j == 4:
			if e := expect("error batch 4", err, "23505"); e != nil {
				br.Close()
				return nil, e
			}
			c.op("INSERT", err)
		default:
			if err == nil {
				br.Close()
				return nil, fmt.Errorf("error batch %d: executed after the error", j)
			}
			c.Skipped++
		}
	}
	br.Close()

	// Three statements in one simple Query.
	multi := fmt.Sprintf("UPDATE %s SET v = 'm' WHERE k = 1; SELECT 1; DELETE FROM %s WHERE k = -5",
		table, table)
	if _, err := conn.Exec(ctx, multi); err != nil {
		return nil, fmt.Errorf("multi-statement query: %w", err)
	}
	c.op("UPDATE", nil)
	c.op("SELECT", nil)
	c.op("DELETE", nil)

	if err := exec("SELECT", "SELECT * FROM sonde_no_such_table", "42P01"); err != nil {
		return nil, err
	}
	return c, nil
}

func main() {
	dsn := flag.String("dsn", "", "PostgreSQL URL")
	table := flag.String("table", "sonde_pgx", "empty table (k int primary key, v text)")
	rounds := flag.Int("rounds", 10, "rounds of the per-row mix")
	mode := flag.String("mode", "mix", "mix: the fixed mix on one connection; check: "+
		"INSERT ... RETURNING against a CHECK constraint from a pool")
	var k check
	flag.IntVar(&k.clients, "clients", 8, "check: goroutines and pool connections")
	flag.IntVar(&k.requests, "requests", 530, "check: INSERTs in all")
	flag.BoolVar(&k.named, "named", false,
		"check: prepare the INSERT by name when a connection opens (pgxpool AfterConnect)")
	flag.StringVar(&k.listen, "listen", "",
		"check: after opening the pool, listen on this address and start when a client "+
			"connects (a port= rule selects the process then)")
	gate := flag.String("gate", "", "a file (a FIFO) read to its end before the first "+
		"connection: the test holds the program there until its observer is ready")
	flag.Parse()
	if *gate != "" {
		if _, err := os.ReadFile(*gate); err != nil {
			fmt.Fprintf(os.Stderr, "pgx-mix: gate: %v\n", err)
			os.Exit(1)
		}
	}
	if *dsn == "" || strings.ContainsAny(*table, " ;'\"") {
		fmt.Fprintln(os.Stderr, "pgx-mix: -dsn required; -table must be a plain name")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var c *counts
	var err error
	if *mode == "check" {
		c, err = k.run(ctx, *dsn, *table)
	} else {
		c, err = run(ctx, *dsn, *table, *rounds)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgx-mix: %v\n", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(c)
}
