// SPDX-License-Identifier: GPL-2.0-only
/* sonde top: options, the scrape loop, the terminal (see top.h). */
#include "top/top.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "top/scrape.h"
#include "top/topview.h"

#define KEY_CTRL_C 0x03
#define KEY_CTRL_Z 0x1a
#define WAKE_MS 250 /* the loop sees signals and keys at least this often */

static const char usage[] =
	"Usage: sonde top [--url URL] [--interval SECONDS] [--once]\n"
	"                 [--user USER [--password-file FILE]] [--ca-file FILE | --insecure]\n"
	"Live view of a running sonde, read from its /metrics: per service and route the\n"
	"requests/s, error % (5xx) and p50/p99 latency; per database operation (system,\n"
	"operation) the ops/s, errors/s and p50/p99. Sorted by rate, highest first.\n"
	"\n"
	"  -u, --url URL           metrics endpoint (default " TOP_DEFAULT_URL ");\n"
	"                          http or https; a URL without a path means /metrics\n"
	"  -i, --interval SECONDS  time between scrapes, 0.1 to 3600 (default 1)\n"
	"  -1, --once              print one plain-text snapshot computed from two scrapes\n"
	"                          one interval apart, then exit (the default when stdout\n"
	"                          is not a terminal)\n"
	"      --user USER         basic auth user (sonde's --web-config basic_auth_users);\n"
	"                          the password is the first line of --password-file, else\n"
	"                          the SONDE_TOP_PASSWORD environment variable (never a flag:\n"
	"                          command lines are visible to every user)\n"
	"      --password-file FILE  file holding the password\n"
	"      --ca-file FILE      PEM CA certificates to verify an https endpoint with\n"
	"                          (default: the system's)\n"
	"      --insecure          https without verifying the endpoint's certificate\n"
	"  -h, --help              print this help\n"
	"\n"
	"Keys: q or Ctrl-C quits, Ctrl-Z suspends.\n"
	"Rates are counter deltas between consecutive scrapes divided by the time between\n"
	"them. p50/p99 come from the histogram bucket deltas by linear interpolation inside\n"
	"the bucket, as Prometheus' histogram_quantile() computes them.\n";

static volatile sig_atomic_t stop_requested, resized;

static struct {
	bool raw, screen;
	struct termios saved;
} term;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		resized = 1;
	else
		stop_requested = 1;
}

/* The first line of path, without its newline, into o->password. */
static int read_password(struct top_opts *o, const char *path, FILE *err)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		fprintf(err, "sonde top: --password-file \"%s\": %s\n", path, strerror(errno));
		return -EINVAL;
	}
	if (!fgets(o->password, sizeof(o->password), f))
		o->password[0] = '\0';
	fclose(f);
	n = strcspn(o->password, "\r\n");
	o->password[n] = '\0';
	return 0;
}

/* --user needs a password from a file or the environment; the others need --user. */
static int check_auth(struct top_opts *o, const char *pw_file, FILE *err)
{
	const char *env = getenv("SONDE_TOP_PASSWORD");

	if (!o->user) {
		if (!pw_file)
			return 0;
		fputs("sonde top: --password-file needs --user\n", err);
		return -EINVAL;
	}
	if (pw_file)
		return read_password(o, pw_file, err);
	if (!env) {
		fputs("sonde top: --user needs a password: --password-file FILE or "
		      "SONDE_TOP_PASSWORD\n",
		      err);
		return -EINVAL;
	}
	if (strlen(env) >= sizeof(o->password)) {
		fputs("sonde top: SONDE_TOP_PASSWORD is too long\n", err);
		return -EINVAL;
	}
	strcpy(o->password, env);
	return 0;
}

static int parse_interval(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !isfinite(v) || v < 0.1 || v > 3600)
		return -EINVAL;
	*out = v;
	return 0;
}

int top_parse_args(int argc, char **argv, struct top_opts *o, FILE *out, FILE *err)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "interval", required_argument, NULL, 'i' },
		{ "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' },
		{ "user", required_argument, NULL, 'U' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ "insecure", no_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	struct scrape_url u;
	const char *why, *pw_file = NULL;
	int c;

	*o = (struct top_opts){ .url = TOP_DEFAULT_URL, .interval = 1 };
	optind = 0; /* glibc: start over, whatever parsed argv before */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":u:i:1h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			o->url = optarg;
			break;
		case 'i':
			if (parse_interval(optarg, &o->interval)) {
				fprintf(err,
					"sonde top: --interval wants seconds from 0.1 to 3600, "
					"not \"%s\"\n",
					optarg);
				return -EINVAL;
			}
			break;
		case '1':
			o->once = true;
			break;
		case 'U':
			o->user = optarg;
			break;
		case 'P':
			pw_file = optarg;
			break;
		case 'C':
			o->ca_file = optarg;
			break;
		case 'K':
			o->insecure = true;
			break;
		case 'h':
			fputs(usage, out);
			return 1;
		case ':':
			fprintf(err, "sonde top: %s needs a value (see sonde top --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(err, "sonde top: unknown option %s (see sonde top --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(err, "sonde top: unexpected argument \"%s\" (see sonde top --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	if (scrape_url_parse(o->url, &u, &why)) {
		fprintf(err, "sonde top: --url \"%s\": %s\n", o->url, why ? why : "too long");
		return -EINVAL;
	}
	if (o->ca_file && o->insecure) {
		fputs("sonde top: --ca-file and --insecure exclude each other\n", err);
		return -EINVAL;
	}
	return check_auth(o, pw_file, err);
}

/* ---- scraping -------------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Scrapes o->url into s (initialised here), noting the time the request started in *t.
 * Returns 0, or -errno with msg saying what failed and what to do.
 */
static int take_snapshot(const struct top_opts *o, const struct scrape_url *u,
			 struct top_snapshot *s, double *t, char *msg, size_t msgsz)
{
	/* One interval, within [1 s, 5 s]: a stuck sonde must not freeze the view for long. */
	int timeout_ms = (int)(fmin(fmax(o->interval, 1), 5) * 1000);
	struct scrape_opts so = { .user = o->user,
				  .password = o->password,
				  .ca_file = o->ca_file,
				  .insecure = o->insecure };
	struct scrape_response r;
	struct prom_error perr = { 0 };
	int err;

	top_snapshot_init(s);
	*t = now_s();
	err = scrape_get_opts(u, &so, timeout_ms, &r);
	if (err) {
		snprintf(msg, msgsz, "scrape of %s failed: %s%s", o->url,
			 r.reason ? r.reason : strerror(-err),
			 err == -ECONNREFUSED ? " (is sonde running? see --url)" : "");
	} else if (r.status != 200) {
		snprintf(msg, msgsz, "scrape of %s: HTTP status %d (%s)", o->url, r.status,
			 r.status == 401 ? "see --user, --password-file"
					 : "is it sonde's /metrics?");
		err = -EPROTO;
	} else {
		err = top_snapshot_parse(s, r.body, r.body_len, &perr);
		if (err == -EINVAL)
			snprintf(msg, msgsz, "scrape of %s: line %zu: %s", o->url, perr.line,
				 perr.reason);
		else if (err)
			snprintf(msg, msgsz, "scrape of %s: %s", o->url, strerror(-err));
	}
	scrape_response_free(&r);
	if (err)
		top_snapshot_free(s);
	return err;
}

static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t, .tv_nsec = (long)((t - floor(t)) * 1e9) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* --once: two scrapes one interval apart, one plain-text frame. */
static int run_once(const struct top_opts *o, const struct scrape_url *u)
{
	struct top_snapshot a, b;
	struct top_frame f = { .url = o->url };
	struct top_view v;
	char msg[512];
	double ta, tb;
	int err;

	if (take_snapshot(o, u, &a, &ta, msg, sizeof(msg))) {
		fprintf(stderr, "sonde top: %s\n", msg);
		return 1;
	}
	sleep_until(ta + o->interval);
	err = take_snapshot(o, u, &b, &tb, msg, sizeof(msg));
	if (err) {
		top_snapshot_free(&a);
		fprintf(stderr, "sonde top: %s\n", msg);
		return 1;
	}
	err = top_view_build(&v, &a, &b, tb - ta);
	if (!err) {
		top_render(stdout, &v, &f);
		top_view_free(&v);
	}
	top_snapshot_free(&a);
	top_snapshot_free(&b);
	if (err || fflush(stdout)) {
		fprintf(stderr, "sonde top: %s\n", strerror(err ? -err : errno));
		return 1;
	}
	return 0;
}

/* ---- the terminal ---------------------------------------------------------------------- */

static void write_all(const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(STDOUT_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Back to what the user had: cooked mode, main screen, visible cursor. Idempotent. */
static void term_leave(void)
{
	static const char leave[] = "\033[?25h\033[?1049l";

	if (term.screen)
		write_all(leave, sizeof(leave) - 1);
	term.screen = false;
	if (term.raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &term.saved);
	term.raw = false;
}

/*
 * Keys one by one without echo; ISIG off so Ctrl-C and Ctrl-Z arrive as bytes and are
 * handled in the loop, where restoring the terminal is safe. Alternate screen, no cursor.
 */
static void term_enter(void)
{
	static const char enter[] = "\033[?1049h\033[?25l\033[H\033[2J";
	struct termios t;

	if (isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &term.saved)) {
		t = term.saved;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG | IEXTEN);
		t.c_iflag &= ~(tcflag_t)IXON;
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		term.raw = !tcsetattr(STDIN_FILENO, TCSADRAIN, &t);
	}
	write_all(enter, sizeof(enter) - 1);
	term.screen = true;
}

struct live {
	const struct top_opts *o;
	const struct scrape_url *u;
	struct top_snapshot prev; /* the last good scrape */
	double t_prev;
	bool have_prev, have_view;
	struct top_view view; /* borrows from prev */
	char status[512];
};

/* One frame from home: each line cleared to its end, the rest of the screen below too. */
static void draw(struct live *l)
{
	struct top_frame f = { .url = l->o->url, .live = true, .width = 80, .height = 24 };
	struct winsize ws;
	char clock[16], *buf = NULL, *p, *nl;
	size_t len = 0;
	time_t now = time(NULL);
	struct tm tm;
	FILE *m;
	int line;

	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col && ws.ws_row) {
		f.width = ws.ws_col;
		f.height = ws.ws_row;
	}
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime_r(&now, &tm));
	f.clock = clock;
	f.status = l->status[0] ? l->status : NULL;
	m = open_memstream(&buf, &len);
	if (!m)
		return;
	top_render(m, l->have_view ? &l->view : NULL, &f);
	if (fclose(m)) {
		free(buf);
		return;
	}
	write_all("\033[H", 3);
	for (p = buf, line = 0; *p && line < f.height; p = *nl ? nl + 1 : nl, line++) {
		nl = p + strcspn(p, "\n");
		/* No newline after the last line: the screen must not scroll. */
		if (line)
			write_all("\n", 1);
		write_all(p, (size_t)(nl - p));
		write_all("\033[K", 3);
	}
	write_all("\033[J", 3);
	free(buf);
}

/* Scrapes; a good scrape becomes prev and, after the first, the view. */
static void tick(struct live *l)
{
	struct top_snapshot cur;
	struct top_view v;
	double t;
	int err;

	if (take_snapshot(l->o, l->u, &cur, &t, l->status, sizeof(l->status)))
		return; /* the last view stays, under the status line */
	l->status[0] = '\0';
	if (l->have_prev) {
		err = top_view_build(&v, &l->prev, &cur, t - l->t_prev);
		if (err) {
			snprintf(l->status, sizeof(l->status), "%s", strerror(-err));
		} else {
			top_view_free(&l->view); /* it borrowed from prev */
			l->view = v;
			l->have_view = true;
		}
	}
	top_snapshot_free(&l->prev);
	l->prev = cur;
	l->t_prev = t;
	l->have_prev = true;
}

/* Ctrl-Z: the terminal as it was, stopped until SIGCONT, then the view again. */
static void suspend(struct live *l)
{
	struct sigaction old;

	/* Without job control SIGTSTP is ignored: nobody could resume a stopped top. */
	if (sigaction(SIGTSTP, NULL, &old) || old.sa_handler == SIG_IGN)
		return;
	term_leave();
	raise(SIGTSTP);
	term_enter();
	draw(l);
}

/* Reads the keys waiting on the terminal; q, Q and Ctrl-C ask to stop. */
static void read_keys(struct live *l)
{
	char keys[64];
	ssize_t n, i;

	n = read(STDIN_FILENO, keys, sizeof(keys));
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
		stop_requested = 1; /* the terminal went away */
		return;
	}
	for (i = 0; i < n; i++) {
		if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == KEY_CTRL_C)
			stop_requested = 1;
		else if (keys[i] == KEY_CTRL_Z)
			suspend(l);
	}
}

/* Until the deadline: keys, signals and resizes, waking at least every WAKE_MS. */
static void wait_until(struct live *l, double deadline)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	double left;
	int ms;

	while (!stop_requested && (left = deadline - now_s()) > 0) {
		ms = left * 1000 < WAKE_MS ? (int)ceil(left * 1000) : WAKE_MS;
		if (term.raw && poll(&pfd, 1, ms) > 0)
			read_keys(l);
		else if (!term.raw)
			poll(NULL, 0, ms);
		if (resized) {
			resized = 0;
			draw(l);
		}
	}
}

static int run_live(const struct top_opts *o, const struct scrape_url *u)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: poll wakes */
	struct live l = { .o = o, .u = u };
	double next;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	atexit(term_leave);
	term_enter();
	for (next = now_s(); !stop_requested;) {
		tick(&l);
		draw(&l);
		next += o->interval;
		if (next < now_s()) /* fell behind (a slow scrape): no burst to catch up */
			next = now_s() + o->interval;
		wait_until(&l, next);
	}
	term_leave();
	top_view_free(&l.view);
	top_snapshot_free(&l.prev);
	return 0;
}

int top_main(int argc, char **argv)
{
	struct top_opts o;
	struct scrape_url u;
	int rc;

	rc = top_parse_args(argc, argv, &o, stdout, stderr);
	if (rc)
		return rc > 0 ? 0 : 2;
	scrape_url_parse(o.url, &u, NULL); /* checked by top_parse_args */
	if (o.once || !isatty(STDOUT_FILENO))
		return run_once(&o, &u);
	return run_live(&o, &u);
}
