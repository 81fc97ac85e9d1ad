// SPDX-License-Identifier: GPL-2.0-only

// redis-mix is a Redis client issuing a fixed mix of commands, in one of three modes:
//
//   - pipeline: on one connection, -rounds times, 40 commands written in ONE write (SETs
//     with -value-size byte values, so the write is larger than a capture prefix), with
//     one LPUSH on a string key inside (WRONGTYPE), then the 40 replies read back.
//   - redigo: the redigo client: Do of single commands (a nil reply, a WRONGTYPE, an
//     unknown command), hashes and sets, and a 16-command pipeline (Send, Flush, Receive).
//   - resp3: HELLO 3, then map (HGETALL), set (SMEMBERS), double (ZSCORE), null and
//     boolean replies, and client-side caching: CLIENT TRACKING ON, a GET, a second
//     connection's SET that makes the server push an invalidation ('>') to the first, then
//     a PING whose reply must not be mistaken for the push.
//
// It prints {"ops": {"SET": n, "LPUSH WRONGTYPE": 1, ...}, "pushes": n, "bytes_per_write":
// n} on stdout: ops keys are the command's first word, then the error's first word when
// the reply was an error. Every reply is checked against what the command must return.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gomodule/redigo/redis"
)

type counts struct {
	Ops           map[string]int `json:"ops"`
	Pushes        int            `json:"pushes"`
	BytesPerWrite int            `json:"bytes_per_write,omitempty"`
}

func (c *counts) add(cmd string, errWord string) {
	key := strings.ToUpper(cmd)
	if errWord != "" {
		key += " " + errWord
	}
	c.Ops[key]++
}

// ---- a minimal RESP2/RESP3 reader ---------------------------------------------------------

type reply struct {
	kind  byte // + - : $ * % ~ > | _ , # ( = !
	str   string
	null  bool
	elems []reply
}

func (r reply) errWord() string {
	if r.kind != '-' && r.kind != '!' {
		return ""
	}
	if i := strings.IndexByte(r.str, ' '); i > 0 {
		return r.str[:i]
	}
	return r.str
}

func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("line without CRLF: %q", line)
	}
	return line[:len(line)-2], nil
}

func readReply(br *bufio.Reader) (reply, error) {
	line, err := readLine(br)
	if err != nil {
		return reply{}, err
	}
	if line == "" {
		return reply{}, errors.New("empty line")
	}
	r := reply{kind: line[0], str: line[1:]}
	switch r.kind {
	case '+', '-', ':', ',', '#', '(', '_':
		r.null = r.kind == '_'
		return r, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(r.str)
		if err != nil {
			return r, err
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return r, err
		}
		r.str = string(buf[:n])
		return r, nil
	case '*', '%', '~', '>', '|':
		n, err := strconv.Atoi(r.str)
		if err != nil {
			return r, err
		}
		if n < 0 {
			r.null = true
			return r, nil
		}
		if r.kind == '%' || r.kind == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			e, err := readReply(br)
			if err != nil {
				return r, err
			}
			r.elems = append(r.elems, e)
		}
		return r, nil
	}
	return r, fmt.Errorf("unknown reply type %q", line)
}

// readTop reads the next reply that answers a command: attributes ('|') annotate the
// reply after them; pushes ('>') are counted and skipped.
func readTop(br *bufio.Reader, c *counts) (reply, error) {
	for {
		r, err := readReply(br)
		if err != nil {
			return r, err
		}
		switch r.kind {
		case '>':
			c.Pushes++
			continue
		case '|':
			continue
		}
		return r, nil
	}
}

func resp(args ...string) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&sb, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(sb.String())
}

// ---- pipeline mode ------------------------------------------------------------------------

type cmdSpec struct {
	args []string
	want string // reply kind expected: "+OK", ":", "$", "-WRONGTYPE", ...
}

func pipelineCommands(prefix string, valueSize int) []cmdSpec {
	value := strings.Repeat("v", valueSize)
	var cmds []cmdSpec
	for j := 0; j < 30; j++ {
		if j == 25 { // well past the first 4096 bytes of the write
			cmds = append(cmds, cmdSpec{[]string{"LPUSH", prefix + "k3", "x"}, "-WRONGTYPE"})
			continue
		}
		cmds = append(cmds, cmdSpec{[]string{"SET", fmt.Sprintf("%sk%d", prefix, j), value}, "+OK"})
	}
	for j := 0; j < 5; j++ {
		cmds = append(cmds, cmdSpec{[]string{"GET", fmt.Sprintf("%sk%d", prefix, j)}, "$"})
	}
	for j := 0; j < 3; j++ {
		cmds = append(cmds, cmdSpec{[]string{"INCR", prefix + "counter"}, ":"})
	}
	cmds = append(cmds, cmdSpec{[]string{"DEL", prefix + "k0"}, ":"})
	cmds = append(cmds, cmdSpec{[]string{"EXISTS", prefix + "k1"}, ":"})
	return cmds
}

func check(cmd []string, r reply, want string) error {
	got := string(r.kind)
	if r.kind == '-' || r.kind == '!' {
		got = "-" + r.errWord()
	} else if r.kind == '+' {
		got = "+" + r.str
	}
	if got != want {
		return fmt.Errorf("%v: want %s, got %q %q", cmd, want, string(r.kind), r.str)
	}
	return nil
}

func runPipeline(addr, prefix string, rounds, valueSize int) (*counts, error) {
	c := &counts{Ops: map[string]int{}}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	cmds := pipelineCommands(prefix, valueSize)
	var buf []byte
	for _, cs := range cmds {
		buf = append(buf, resp(cs.args...)...)
	}
	c.BytesPerWrite = len(buf)
	for round := 0; round < rounds; round++ {
		n, err := conn.Write(buf) // one write(2) on a blocking-mode loopback socket
		if err != nil || n != len(buf) {
			return nil, fmt.Errorf("write: %d of %d: %v", n, len(buf), err)
		}
		for _, cs := range cmds {
			r, err := readTop(br, c)
			if err != nil {
				return nil, err
			}
			if err := check(cs.args, r, cs.want); err != nil {
				return nil, err
			}
			c.add(cs.args[0], r.errWord())
		}
	}
	return c, nil
}

// ---- redigo mode --------------------------------------------------------------------------

func runRedigo(addr, prefix string, rounds int) (*counts, error) {
	c := &counts{Ops: map[string]int{}}
	conn, err := redis.Dial("tcp", addr, redis.DialConnectTimeout(5*time.Second),
		redis.DialReadTimeout(30*time.Second), redis.DialWriteTimeout(30*time.Second))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	do := func(want string, cmd string, args ...interface{}) error {
		r, err := conn.Do(cmd, args...)
		errWord := ""
		var rerr redis.Error
		if errors.As(err, &rerr) {
			errWord = strings.SplitN(string(rerr), " ", 2)[0]
			err = nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		got := "ok"
		switch {
		case errWord != "":
			got = "-" + errWord
		case r == nil:
			got = "nil"
		}
		if want != got {
			return fmt.Errorf("%s %v: want %s, got %s (%v)", cmd, args, want, got, r)
		}
		c.add(cmd, errWord)
		return nil
	}
	k := func(s string) string { return prefix + s }
	for i := 0; i < rounds; i++ {
		steps := []struct {
			want string
			cmd  string
			args []interface{}
		}{
			{"ok", "SET", []interface{}{k("a"), i}},
			{"ok", "GET", []interface{}{k("a")}},
			{"nil", "GET", []interface{}{k("missing")}},
			{"ok", "INCR", []interface{}{k("a")}},
			{"-WRONGTYPE", "LPUSH", []interface{}{k("a"), "x"}},
			{"ok", "HSET", []interface{}{k("h"), "f1", "v1", "f2", "v2"}},
			{"ok", "HGETALL", []interface{}{k("h")}},
			{"ok", "SADD", []interface{}{k("s"), "m1", "m2"}},
			{"ok", "SMEMBERS", []interface{}{k("s")}},
			{"-ERR", "NOSUCHCMD", []interface{}{"x"}},
			{"ok", "EXPIRE", []interface{}{k("a"), 100}},
			{"ok", "DEL", []interface{}{k("h"), k("s")}},
		}
		for _, s := range steps {
			if err := do(s.want, s.cmd, s.args...); err != nil {
				return nil, err
			}
		}
		// 16 commands pipelined: 8 SET, 8 GET.
		for j := 0; j < 8; j++ {
			if err := conn.Send("SET", k(fmt.Sprintf("p%d", j)), j); err != nil {
				return nil, err
			}
			if err := conn.Send("GET", k(fmt.Sprintf("p%d", j))); err != nil {
				return nil, err
			}
		}
		if err := conn.Flush(); err != nil {
			return nil, err
		}
		for j := 0; j < 16; j++ {
			r, err := conn.Receive()
			if err != nil || r == nil {
				return nil, fmt.Errorf("pipelined reply %d: %v %v", j, r, err)
			}
			if j%2 == 0 {
				c.add("SET", "")
			} else {
				c.add("GET", "")
			}
		}
	}
	return c, nil
}

// ---- resp3 mode ---------------------------------------------------------------------------

type rawConn struct {
	conn net.Conn
	br   *bufio.Reader
	c    *counts
}

func dialRaw(addr string, c *counts) (*rawConn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{conn, bufio.NewReader(conn), c}, nil
}

// do sends one command, reads its reply (pushes counted and skipped) and checks its kind.
func (rc *rawConn) do(want string, args ...string) (reply, error) {
	if _, err := rc.conn.Write(resp(args...)); err != nil {
		return reply{}, err
	}
	r, err := readTop(rc.br, rc.c)
	if err != nil {
		return r, err
	}
	if err := check(args, r, want); err != nil {
		return r, err
	}
	rc.c.add(args[0], r.errWord())
	return r, nil
}

func runResp3(addr, prefix string, rounds int) (*counts, error) {
	c := &counts{Ops: map[string]int{}}
	a, err := dialRaw(addr, c)
	if err != nil {
		return nil, err
	}
	defer a.conn.Close()
	b, err := dialRaw(addr, c)
	if err != nil {
		return nil, err
	}
	defer b.conn.Close()
	k := func(s string) string { return prefix + s }
	if _, err := a.do("%", "HELLO", "3"); err != nil {
		return nil, err
	}
	if _, err := a.do("+OK", "CLIENT", "TRACKING", "ON"); err != nil {
		return nil, err
	}
	for i := 0; i < rounds; i++ {
		steps := []struct {
			want string
			args []string
		}{
			{":", []string{"HSET", k("h"), "f1", "v1", "f2", "v2"}},
			{"%", []string{"HGETALL", k("h")}},
			{":", []string{"SADD", k("s"), "m1", "m2", "m3"}},
			{"~", []string{"SMEMBERS", k("s")}},
			{":", []string{"ZADD", k("z"), "1.5", "a"}},
			{",", []string{"ZSCORE", k("z"), "a"}},
			{"_", []string{"GET", k("missing")}},
			{"-WRONGTYPE", []string{"GET", k("h")}},
			{"+OK", []string{"SET", k("t"), "1"}},
			{"$", []string{"GET", k("t")}}, // tracked from here on
		}
		for _, s := range steps {
			if _, err := a.do(s.want, s.args...); err != nil {
				return nil, err
			}
		}
		// Another connection changes the tracked key: the server pushes an invalidation
		// to the first, which then arrives before (or with) the reply to its PING.
		if _, err := b.do("+OK", "SET", k("t"), "2"); err != nil {
			return nil, err
		}
		before := c.Pushes
		deadline := time.Now().Add(5 * time.Second)
		for c.Pushes == before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			if _, err := a.do("+PONG", "PING"); err != nil {
				return nil, err
			}
		}
		if c.Pushes == before {
			return nil, errors.New("no invalidation push arrived")
		}
		if _, err := a.do(":", "DEL", k("h"), k("s"), k("z")); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func main() {
	mode := flag.String("mode", "pipeline", "pipeline, redigo or resp3")
	addr := flag.String("addr", "127.0.0.1:6379", "Redis host:port")
	prefix := flag.String("prefix", "sonde:", "key prefix")
	rounds := flag.Int("rounds", 1, "rounds")
	valueSize := flag.Int("value-size", 200, "bytes of each SET value (pipeline mode)")
	flag.Parse()
	var c *counts
	var err error
	switch *mode {
	case "pipeline":
		c, err = runPipeline(*addr, *prefix, *rounds, *valueSize)
	case "redigo":
		c, err = runRedigo(*addr, *prefix, *rounds)
	case "resp3":
		c, err = runResp3(*addr, *prefix, *rounds)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "redis-mix: %v\n", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(c)
}
