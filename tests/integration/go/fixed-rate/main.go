// SPDX-License-Identifier: GPL-2.0-only

// fixed-rate is an open-loop HTTP/1.1 load client: it sends GET requests at a fixed total
// rate over N keep-alive connections and measures latency without coordinated omission.
//
// Connection c sends its k-th request at the scheduled time start + (c + k*N)/rate, so the
// N connections interleave evenly. A request's latency is its exchange time (write to last
// response byte) plus, when its connection was still busy with the previous response at
// the scheduled time, that wait: a slow response delays the next request, and that wait is
// the service's doing, so it is counted, as in wrk2 (no coordinated omission). The
// client's own lateness (timer wake-up, CPU taken by others) is not counted; it is
// reported apart (send_lag_*: actual send - due time).
//
// The load client shares the CPUs with the service it measures, so it is built to cost
// little: one thread, non-blocking sockets, one epoll_pwait2 (ns timeout) per wake-up,
// entered as a raw syscall so that the Go runtime wakes no other thread meanwhile. Responses need a Content-Length (or a status without a body).
//
// Bounded: the run ends at warmup + duration; responses still awaited then get -timeout.
// Prints one JSON object; exits non-zero on a usage error or when nothing completed.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

type conn struct {
	fd      int
	due     time.Time // the next request's scheduled time
	busy    bool
	sent    time.Time // when the request in flight was written
	wait    time.Duration
	measure bool // the request in flight was due in the measured period
	buf     []byte
	req     int // index of the next request of reqs
}

type stats struct {
	latencies []int64 // ns, measured requests only
	sendLags  []int64 // ns: actual send - due time (or previous response's end when later)
	scheduled int
	completed int
	non2xx    int
	errors    int
	late      int // the connection was still busy at a scheduled time
}

var errShort = errors.New("incomplete")

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "host:port of the service (IPv4)")
	paths := flag.String("paths", "/", "comma-separated request paths, cycled over")
	host := flag.String("host", "", "Host header (default: -addr)")
	rate := flag.Float64("rate", 1000, "requests per second, all connections together")
	nconns := flag.Int("conns", 16, "keep-alive connections")
	duration := flag.Duration("duration", 10*time.Second, "measured period")
	warmup := flag.Duration("warmup", 2*time.Second, "period before it, not measured")
	timeout := flag.Duration("timeout", 5*time.Second, "how long the run waits for "+
		"responses after its end")
	flag.Parse()
	if *rate <= 0 || *nconns < 1 || *duration <= 0 || *warmup < 0 {
		fmt.Fprintln(os.Stderr, "fixed-rate: -rate, -conns, -duration must be positive")
		os.Exit(2)
	}
	if *host == "" {
		*host = *addr
	}
	runtime.GOMAXPROCS(1)
	runtime.LockOSThread()
	var reqs [][]byte
	for _, p := range strings.Split(*paths, ",") {
		reqs = append(reqs, []byte("GET "+p+" HTTP/1.1\r\nHost: "+*host+
			"\r\nUser-Agent: sonde-fixed-rate\r\n\r\n"))
	}
	sa, err := sockaddr(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fixed-rate:", err)
		os.Exit(2)
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fixed-rate: epoll:", err)
		os.Exit(1)
	}

	period := time.Duration(float64(time.Second) * float64(*nconns) / *rate)
	step := time.Duration(float64(time.Second) / *rate)
	conns := make([]*conn, *nconns)
	byFd := map[int]*conn{}
	var st stats
	for i := range conns {
		c := &conn{fd: -1, buf: make([]byte, 0, 16384), req: i % len(reqs)}
		if err := c.dial(sa, epfd); err != nil {
			fmt.Fprintln(os.Stderr, "fixed-rate: connect:", err)
			os.Exit(1)
		}
		conns[i], byFd[c.fd] = c, c
	}
	start := time.Now().Add(20 * time.Millisecond)
	measureFrom := start.Add(*warmup)
	end := measureFrom.Add(*duration)
	for i, c := range conns {
		c.due = start.Add(time.Duration(i) * step)
	}

	// send writes c's next request if it is due (or overdue) and c is idle.
	send := func(c *conn, now time.Time) {
		if c.busy || c.due.After(now) || !c.due.Before(end) {
			return
		}
		st.scheduled++
		if c.fd < 0 {
			if err := c.dial(sa, epfd); err != nil {
				st.errors++
				c.due = c.due.Add(period)
				return
			}
			byFd[c.fd] = c
		}
		c.measure = !c.due.Before(measureFrom)
		req := reqs[c.req]
		c.req = (c.req + 1) % len(reqs)
		c.sent = time.Now()
		n, err := syscall.Write(c.fd, req)
		if err != nil || n != len(req) { // 1 small request into an idle socket: all or error
			st.errors++
			delete(byFd, c.fd)
			c.close()
			c.due = c.due.Add(period)
			return
		}
		c.busy = true
		lag := c.sent.Sub(c.due)
		if c.wait > 0 {
			lag = c.sent.Sub(c.due.Add(c.wait))
		}
		if c.measure {
			st.sendLags = append(st.sendLags, int64(lag))
		}
		c.due = c.due.Add(period)
	}

	events := make([]syscall.EpollEvent, len(conns))
	rbuf := make([]byte, 65536)
	deadline := end.Add(*timeout)
	for {
		now := time.Now()
		next := end
		busy := 0
		for _, c := range conns {
			send(c, now)
			if c.busy {
				busy++
			} else if c.due.Before(next) {
				next = c.due
			}
		}
		if busy == 0 && !next.Before(end) {
			break
		}
		if now.After(deadline) {
			st.errors += busy
			break
		}
		wait := next.Sub(now)
		if busy > 0 && deadline.Sub(now) < wait {
			wait = deadline.Sub(now)
		}
		n, err := epollWait(epfd, events, wait)
		if err != nil && err != syscall.EINTR {
			fmt.Fprintln(os.Stderr, "fixed-rate: epoll_wait:", err)
			os.Exit(1)
		}
		for i := 0; i < n; i++ {
			c := byFd[int(events[i].Fd)]
			if c == nil {
				continue
			}
			status, err := c.receive(rbuf)
			if err == errShort {
				continue
			}
			done := time.Now()
			if err != nil || !c.busy {
				st.errors++
				delete(byFd, c.fd)
				c.close()
				c.busy, c.wait = false, 0
				continue
			}
			c.busy = false
			st.completed++
			if status < 200 || status > 299 {
				st.non2xx++
			}
			if c.measure {
				st.latencies = append(st.latencies, int64(done.Sub(c.sent)+c.wait))
			}
			// The next request was due while this one was in flight: it goes out now, and
			// the time it waited for the connection counts in its latency.
			c.wait = 0
			if c.due.Before(done) && c.due.Before(end) {
				c.wait = done.Sub(c.due)
				st.late++
			}
			send(c, done)
		}
	}
	for _, c := range conns {
		c.close()
	}
	report(&st, *rate, *nconns, *duration)
}

func report(st *stats, rate float64, nconns int, duration time.Duration) {
	all, lags := st.latencies, st.sendLags
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	out := map[string]interface{}{
		"rate":                  rate,
		"conns":                 nconns,
		"duration_s":            duration.Seconds(),
		"scheduled":             st.scheduled,
		"completed":             st.completed,
		"measured":              len(all),
		"non2xx":                st.non2xx,
		"errors":                st.errors,
		"late_due_to_busy_conn": st.late,
		"achieved_rps":          float64(len(all)) / duration.Seconds(),
		"p50_us":                pct(all, 50),
		"p90_us":                pct(all, 90),
		"p99_us":                pct(all, 99),
		"p999_us":               pct(all, 99.9),
		"max_us":                pct(all, 100),
		"mean_us":               mean(all),
		"send_lag_p50_us":       pct(lags, 50),
		"send_lag_p99_us":       pct(lags, 99),
	}
	json.NewEncoder(os.Stdout).Encode(out)
	if len(all) == 0 {
		os.Exit(1)
	}
}

func sockaddr(addr string) (*syscall.SockaddrInet4, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ip := net.ParseIP(h).To4()
	port, err := strconv.Atoi(p)
	if ip == nil || err != nil {
		return nil, fmt.Errorf("-addr %q: want IPv4:port", addr)
	}
	sa := &syscall.SockaddrInet4{Port: port}
	copy(sa.Addr[:], ip)
	return sa, nil
}

// dial connects (blocking, then non-blocking) and registers the socket for input.
func (c *conn) dial(sa *syscall.SockaddrInet4, epfd int) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err = syscall.Connect(fd, sa); err == nil {
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		err = syscall.SetNonblock(fd, true)
	}
	if err == nil {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		err = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	}
	if err != nil {
		syscall.Close(fd)
		return err
	}
	c.fd = fd
	c.buf = c.buf[:0]
	return nil
}

func (c *conn) close() {
	if c.fd >= 0 {
		syscall.Close(c.fd) // also leaves the epoll set
		c.fd = -1
	}
	c.buf = c.buf[:0]
}

// receive reads what is there and returns the status once a whole response is in, or
// errShort while it is not.
func (c *conn) receive(rbuf []byte) (int, error) {
	for {
		n, err := syscall.Read(c.fd, rbuf)
		if n > 0 {
			c.buf = append(c.buf, rbuf[:n]...)
		}
		if err == syscall.EAGAIN {
			break
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, errors.New("connection closed")
		}
		if n < len(rbuf) {
			break
		}
	}
	status, total, err := parse(c.buf)
	if err != nil {
		return 0, err
	}
	if len(c.buf) > total {
		return 0, errors.New("more bytes than one response")
	}
	c.buf = c.buf[:0]
	return status, nil
}

// parse returns the status and the length of the response at the start of b.
func parse(b []byte) (int, int, error) {
	hdrEnd := bytes.Index(b, []byte("\r\n\r\n"))
	if hdrEnd < 0 {
		if len(b) > 65536 {
			return 0, 0, errors.New("response headers too long")
		}
		return 0, 0, errShort
	}
	head := string(b[:hdrEnd])
	lines := strings.Split(head, "\r\n")
	if len(lines[0]) < 12 || !strings.HasPrefix(lines[0], "HTTP/1.") {
		return 0, 0, fmt.Errorf("bad status line %q", lines[0])
	}
	status, err := strconv.Atoi(lines[0][9:12])
	if err != nil {
		return 0, 0, fmt.Errorf("bad status line %q", lines[0])
	}
	length := -1
	for _, l := range lines[1:] {
		name, val, _ := strings.Cut(l, ":")
		if strings.EqualFold(name, "Content-Length") {
			length, err = strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				return 0, 0, fmt.Errorf("bad Content-Length %q", val)
			}
		}
	}
	if length < 0 {
		if status == 204 || status == 304 || status/100 == 1 {
			length = 0
		} else {
			return 0, 0, fmt.Errorf("response without Content-Length (status %d)", status)
		}
	}
	total := hdrEnd + 4 + length
	if len(b) < total {
		return 0, 0, errShort
	}
	return status, total, nil
}

// epollWait waits at most d with epoll_pwait2 (a nanosecond timeout), falling back to
// epoll_wait's milliseconds (rounded up) where the kernel lacks it.
var noPwait2 bool

func epollWait(epfd int, events []syscall.EpollEvent, d time.Duration) (int, error) {
	if d < 0 {
		d = 0
	}
	if !noPwait2 {
		ts := syscall.NsecToTimespec(int64(d))
		const sysEpollPwait2 = 441 // x86-64 and the generic syscall table
		// RawSyscall: the runtime does not see this thread block, so it wakes no other
		// thread to take over (on a VM every extra wake-up costs CPU the service needs).
		n, _, e := syscall.RawSyscall6(sysEpollPwait2, uintptr(epfd),
			uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)),
			uintptr(unsafe.Pointer(&ts)), 0, 0)
		if e == 0 {
			return int(n), nil
		}
		if e != syscall.ENOSYS {
			return 0, e
		}
		noPwait2 = true
	}
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	return syscall.EpollWait(epfd, events, ms)
}

func pct(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i]) / 1e3
}

func mean(v []int64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	return s / float64(len(v)) / 1e3
}
