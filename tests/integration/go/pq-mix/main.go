// SPDX-License-Identifier: GPL-2.0-only

// pq-mix is a PostgreSQL client (database/sql with lib/pq, one connection per pool) that
// issues a fixed mix of operations: parameterised INSERT/SELECT (lib/pq prepares the
// unnamed statement in a round trip of its own, then binds and executes it), unique
// violations (23505) over both protocols and inside a transaction, committed and rolled
// back transactions, a named prepared statement executed 5 times then closed, one simple
// Query of 50 INSERTs, and a second pool with binary_parameters=yes (Parse, Bind, Execute
// and Sync in one round trip: nothing prepared apart). It prints what it issued as one
// JSON object on stdout:
//
//	{"ops": {"INSERT": 3, "INSERT 23505": 2, ...}, "prepares": N}
//
// "ops" keys are the operation name, then the SQLSTATE when the server answered with an
// error; "prepares" counts the prepare-only round trips (Parse + Describe + Sync).
// The table (-table, columns k int primary key, v text) must exist and be empty.
package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/lib/pq"
)

type counts struct {
	Ops      map[string]int `json:"ops"`
	Prepares int            `json:"prepares"`
}

func expect(what string, err error, code string) error {
	var pqErr *pq.Error
	switch {
	case code == "" && err == nil:
		return nil
	case code != "" && errors.As(err, &pqErr) && string(pqErr.Code) == code:
		return nil
	}
	return fmt.Errorf("%s: want SQLSTATE %q, got %v", what, code, err)
}

func (c *counts) op(name, code string) {
	if code != "" {
		name += " " + code
	}
	c.Ops[name]++
}

func open(dsn string) (*sql.DB, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	return db, nil
}

func run(dsn, table string, rounds int) (*counts, error) {
	c := &counts{Ops: map[string]int{}}
	db, err := open(dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()

	ins := fmt.Sprintf("INSERT INTO %s (k, v) VALUES ($1, $2)", table)
	sel := fmt.Sprintf("SELECT v FROM %s WHERE k = $1", table)

	// execArgs: lib/pq with arguments = prepare round trip + execute round trip.
	execArgs := func(db *sql.DB, op, q, code string, prepares int, args ...interface{}) error {
		_, err := db.Exec(q, args...)
		if e := expect(op+" "+q, err, code); e != nil {
			return e
		}
		c.Prepares += prepares
		c.op(op, code)
		return nil
	}

	for i := 0; i < rounds; i++ {
		if err := execArgs(db, "INSERT", ins, "", 1, i, "x"); err != nil {
			return nil, err
		}
		if err := execArgs(db, "INSERT", ins, "23505", 1, i, "dup"); err != nil {
			return nil, err
		}
		var v string
		if e := expect("select", db.QueryRow(sel, i).Scan(&v), ""); e != nil {
			return nil, e
		}
		c.Prepares++
		c.op("SELECT", "")
		// Without arguments: a simple Query.
		q := fmt.Sprintf("UPDATE %s SET v = 'y' WHERE k = %d", table, i)
		if err := execArgs(db, "UPDATE", q, "", 0); err != nil {
			return nil, err
		}
		q = fmt.Sprintf("INSERT INTO %s (k, v) VALUES (%d, 'dup')", table, i)
		if err := execArgs(db, "INSERT", q, "23505", 0); err != nil {
			return nil, err
		}
		// Committed transaction.
		tx, err := db.Begin()
		if e := expect("begin", err, ""); e != nil {
			return nil, e
		}
		c.op("BEGIN", "")
		_, err = tx.Exec(ins, 10000+i, "tx")
		if e := expect("insert in tx", err, ""); e != nil {
			return nil, e
		}
		c.Prepares++
		c.op("INSERT", "")
		if e := expect("commit", tx.Commit(), ""); e != nil {
			return nil, e
		}
		c.op("COMMIT", "")
		// A unique violation inside a transaction, rolled back.
		tx, err = db.Begin()
		if e := expect("begin", err, ""); e != nil {
			return nil, e
		}
		c.op("BEGIN", "")
		_, err = tx.Exec(ins, i, "dup")
		if e := expect("insert in tx", err, "23505"); e != nil {
			return nil, e
		}
		c.Prepares++
		c.op("INSERT", "23505")
		if e := expect("rollback", tx.Rollback(), ""); e != nil {
			return nil, e
		}
		c.op("ROLLBACK", "")
	}

	// A named prepared statement: one prepare round trip, 5 executions by name, then a
	// Close + Sync round trip (neither an operation nor a prepare).
	st, err := db.Prepare(fmt.Sprintf("SELECT count(*) FROM %s WHERE k > $1", table))
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	c.Prepares++
	for j := 0; j < 5; j++ {
		var n int
		if e := expect("named select", st.QueryRow(j).Scan(&n), ""); e != nil {
			return nil, e
		}
		c.op("SELECT", "")
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("close statement: %w", err)
	}

	// 50 INSERTs in one simple Query.
	var sb strings.Builder
	for j := 0; j < 50; j++ {
		fmt.Fprintf(&sb, "INSERT INTO %s (k, v) VALUES (%d, 'batch'); ", table, 20000+j)
	}
	if err := execArgs(db, "INSERT", sb.String(), "", 0); err != nil {
		return nil, err
	}
	c.Ops["INSERT"] += 49

	// binary_parameters=yes: Parse, Bind, Describe, Execute, Sync in one round trip.
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	bdb, err := open(dsn + sep + "binary_parameters=yes")
	if err != nil {
		return nil, err
	}
	defer bdb.Close()
	for j := 0; j < 3; j++ {
		if err := execArgs(bdb, "INSERT", ins, "", 0, 30000+j, "bin"); err != nil {
			return nil, err
		}
	}
	if err := execArgs(bdb, "INSERT", ins, "23505", 0, 30000, "bin"); err != nil {
		return nil, err
	}
	for j := 0; j < 2; j++ {
		var v string
		if e := expect("binary select", bdb.QueryRow(sel, 30000+j).Scan(&v), ""); e != nil {
			return nil, e
		}
		c.op("SELECT", "")
	}
	return c, nil
}

func main() {
	dsn := flag.String("dsn", "", "PostgreSQL URL")
	table := flag.String("table", "sonde_pq", "empty table (k int primary key, v text)")
	rounds := flag.Int("rounds", 10, "rounds of the per-row mix")
	flag.Parse()
	if *dsn == "" || strings.ContainsAny(*table, " ;'\"") {
		fmt.Fprintln(os.Stderr, "pq-mix: -dsn required; -table must be a plain name")
		os.Exit(2)
	}
	c, err := run(*dsn, *table, *rounds)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pq-mix: %v\n", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(c)
}
