// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config/env_args.h"

struct argv_buf {
	char **v;
	int n, cap;
};

static int push(struct argv_buf *b, const char *s)
{
	if (b->n + 2 > b->cap) {
		int cap = b->cap ? b->cap * 2 : 16;
		char **v = realloc(b->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	if (!(b->v[b->n] = strdup(s)))
		return -ENOMEM;
	b->v[++b->n] = NULL;
	return 0;
}

static int push_flag(struct argv_buf *b, const char *flag, const char *value)
{
	int err = push(b, flag);

	return err ? err : push(b, value);
}

/* SONDE_SELECT holds rules separated by blanks: one --select each. */
static int push_words(struct argv_buf *b, const char *flag, const char *words)
{
	char *copy = strdup(words), *save = NULL;
	int err = copy ? 0 : -ENOMEM;

	for (char *w = copy ? strtok_r(copy, " \t\n", &save) : NULL; w && !err;
	     w = strtok_r(NULL, " \t\n", &save))
		err = push_flag(b, flag, w);
	free(copy);
	return err;
}

char **env_args(int argc, char **argv, char *(*getenv_fn)(const char *), int *out_argc)
{
	static const char *const single[][2] = {
		{ "SONDE_CONFIG", "--config" },
		{ "SONDE_LISTEN", "--listen" },
		{ "SONDE_CAPTURE", "--capture" },
		{ "SONDE_ROUTES_FILE", "--routes-file" },
	};
	struct argv_buf b = { 0 };
	const char *v;
	int err = push(&b, argc > 0 ? argv[0] : "sonde");

	for (size_t i = 0; !err && i < sizeof(single) / sizeof(single[0]); i++)
		if ((v = getenv_fn(single[i][0])) && *v)
			err = push_flag(&b, single[i][1], v);
	if (!err && (v = getenv_fn("SONDE_SELECT")))
		err = push_words(&b, "--select", v);
	if (!err && (v = getenv_fn("SONDE_VERBOSE")))
		for (long n = strtol(v, NULL, 10); !err && n > 0 && n < 10; n--)
			err = push(&b, "-v");
	for (int i = 1; !err && i < argc; i++)
		err = push(&b, argv[i]);
	if (err) {
		free_env_args(b.v);
		errno = -err;
		return NULL;
	}
	*out_argc = b.n;
	return b.v;
}

void free_env_args(char **args)
{
	if (!args)
		return;
	for (char **a = args; *a; a++)
		free(*a);
	free(args);
}
