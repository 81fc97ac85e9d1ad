// SPDX-License-Identifier: GPL-2.0-only
/*
 * SQL text -> operation name and table; streaming statement splitter.
 * The lexical rules followed are PostgreSQL's (sql-syntax-lexical): '' doubles a quote in
 * '...' and "..."; E'...' also takes backslash escapes; $tag$...$tag$ quotes anything;
 * "--" runs to the end of the line; slash-star comments nest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto/sql.h"

/* ASCII classes as <ctype.h> has them in the C locale (sonde never sets another), inline:
 * the splitter and the lexer ask for every byte of every statement. */
static bool sql_alpha(unsigned char c)
{
	return (unsigned char)((c | 0x20) - 'a') < 26;
}

static bool sql_digit(unsigned char c)
{
	return (unsigned char)(c - '0') < 10;
}

static bool sql_alnum(unsigned char c)
{
	return sql_alpha(c) || sql_digit(c);
}

static bool sql_space(unsigned char c)
{
	return c == ' ' || (unsigned char)(c - '\t') < 5; /* \t \n \v \f \r */
}

static char sql_upper(unsigned char c)
{
	return (char)((unsigned char)(c - 'a') < 26 ? c - 0x20 : c);
}

/* ---- tokenizer over a complete (or cut) statement ---------------------------------------- */

enum tok_kind { T_END, T_WORD, T_QIDENT, T_STRING, T_NUMBER, T_PARAM, T_PUNCT };

struct tok {
	enum tok_kind kind;
	size_t start, len; /* bytes of the token in the text (T_QIDENT: with its quotes) */
	bool open;	   /* runs into the end of the text: it may have been cut */
};

struct lexer {
	const char *s;
	size_t n, pos;
	bool truncated; /* the text is a prefix: an open token is unusable */
};

static bool ident_start(unsigned char c)
{
	return sql_alpha(c) || c == '_' || c >= 0x80;
}

static bool ident_char(unsigned char c)
{
	return ident_start(c) || sql_digit(c) || c == '$';
}

static void skip_blanks(struct lexer *lx)
{
	const char *s = lx->s;
	size_t n = lx->n, i = lx->pos;

	while (i < n) {
		if (sql_space((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') {
			while (i < n && s[i] != '\n')
				i++;
		} else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
			unsigned depth = 1;

			for (i += 2; i < n && depth; i++) {
				if (s[i] == '*' && i + 1 < n && s[i + 1] == '/')
					depth--, i++;
				else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*')
					depth++, i++;
			}
		} else {
			break;
		}
	}
	lx->pos = i;
}

/* s[i] is the opening quote q; returns the index after the closing one, or n and *open. */
static size_t skip_quoted(const struct lexer *lx, size_t i, char q, bool backslash, bool *open)
{
	*open = false;
	for (i++; i < lx->n; i++) {
		if (backslash && lx->s[i] == '\\') {
			i++;
		} else if (lx->s[i] == q) {
			if (i + 1 < lx->n && lx->s[i + 1] == q)
				i++;
			else
				return i + 1;
		}
	}
	*open = true;
	return lx->n;
}

/* s[i] is '$': a parameter ($1), a dollar-quoted string ($tag$...$tag$) or punctuation. */
static enum tok_kind lex_dollar(struct lexer *lx, size_t i)
{
	const char *s = lx->s;
	size_t n = lx->n, j = i + 1;

	if (j < n && sql_digit((unsigned char)s[j])) {
		while (j < n && sql_digit((unsigned char)s[j]))
			j++;
		lx->pos = j;
		return T_PARAM;
	}
	if (j < n && s[j] != '$' && !ident_start(s[j])) {
		lx->pos = j;
		return T_PUNCT;
	}
	while (j < n && s[j] != '$' && (ident_start(s[j]) || sql_digit((unsigned char)s[j])))
		j++;
	if (j >= n || s[j] != '$') {
		lx->pos = i + 1;
		return T_PUNCT;
	}
	/* Opening tag is s[i..j]; the closing one is the same bytes. */
	size_t tag = j + 1 - i;
	const char *end = memmem(s + j + 1, n - j - 1, s + i, tag);

	lx->pos = end ? (size_t)(end - s) + tag : n;
	return T_STRING;
}

static void next_tok(struct lexer *lx, struct tok *t)
{
	const char *s = lx->s;
	size_t n = lx->n, i;

	skip_blanks(lx);
	i = t->start = lx->pos;
	t->open = false;
	if (i >= n) {
		t->kind = T_END;
		t->len = 0;
		return;
	}
	unsigned char c = s[i];

	if (ident_start(c)) {
		size_t j = i;

		while (j < n && ident_char(s[j]))
			j++;
		/* E'..' takes backslash escapes; B'..', X'..', N'..' are plain strings. */
		if (j == i + 1 && j < n && s[j] == '\'' && strchr("EeBbXxNn", c)) {
			lx->pos = skip_quoted(lx, j, '\'', c == 'E' || c == 'e', &t->open);
			t->kind = T_STRING;
		} else if (j == i + 1 && j + 1 < n && s[j] == '&' && (c == 'U' || c == 'u') &&
			   (s[j + 1] == '\'' || s[j + 1] == '"')) {
			/* U&'..' / U&".." carry escapes: never used as a name */
			lx->pos = skip_quoted(lx, j + 1, s[j + 1], false, &t->open);
			t->kind = T_STRING;
		} else {
			lx->pos = j;
			t->kind = T_WORD;
		}
	} else if (c == '"') {
		lx->pos = skip_quoted(lx, i, '"', false, &t->open);
		t->kind = T_QIDENT;
	} else if (c == '\'') {
		lx->pos = skip_quoted(lx, i, '\'', false, &t->open);
		t->kind = T_STRING;
	} else if (c == '$') {
		t->kind = lex_dollar(lx, i);
	} else if (sql_digit(c)) {
		size_t j = i;

		while (j < n && (sql_alnum((unsigned char)s[j]) || s[j] == '.'))
			j++;
		lx->pos = j;
		t->kind = T_NUMBER;
	} else {
		lx->pos = i + 1;
		t->kind = T_PUNCT;
	}
	t->len = lx->pos - i;
	/* A word touching the end may go on; so may "U" before a final '&' (U&'...'). */
	if (t->kind == T_WORD && (lx->pos == n || (t->len == 1 && lx->pos + 1 == n &&
						   s[lx->pos] == '&' && (c == 'U' || c == 'u'))))
		t->open = true;
}

static bool tok_word(const struct lexer *lx, const struct tok *t, const char *kw)
{
	size_t k = strlen(kw);

	return t->kind == T_WORD && t->len == k && strncasecmp(lx->s + t->start, kw, k) == 0;
}

static bool tok_punct(const struct lexer *lx, const struct tok *t, char ch)
{
	return t->kind == T_PUNCT && lx->s[t->start] == ch;
}

/* A word usable as a name: complete unless the text is known whole. */
static bool tok_usable(const struct lexer *lx, const struct tok *t)
{
	return (t->kind == T_WORD || t->kind == T_QIDENT) && !(t->open && lx->truncated) &&
	       !(t->kind == T_QIDENT && t->open);
}

static void copy_upper(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t i;

	if (!dstlen)
		return;
	for (i = 0; i < len && i + 1 < dstlen; i++)
		dst[i] = sql_upper((unsigned char)src[i]);
	dst[i] = '\0';
}

/* ---- operation and table ----------------------------------------------------------------- */

/* Appends one name part; a quoted identifier loses its quotes and its doubled "". */
static bool name_append(char *out, size_t outlen, size_t *o, const struct lexer *lx,
			const struct tok *t)
{
	const char *p = lx->s + t->start;
	size_t len = t->len;

	if (t->kind == T_QIDENT) {
		p++;
		len -= 2;
	}
	for (size_t i = 0; i < len; i++) {
		if (t->kind == T_QIDENT && p[i] == '"')
			i++; /* "" inside a quoted identifier is one quote */
		if (*o + 1 >= outlen)
			return false;
		out[(*o)++] = p[i];
	}
	return true;
}

/* Reads schema.table starting at token t; fails on a cut name, and after FROM (from) on a
 * function call. */
static bool read_name(struct lexer *lx, struct tok *t, bool from, char *out, size_t outlen)
{
	size_t o = 0;

	for (;;) {
		if (!tok_usable(lx, t) || !name_append(out, outlen, &o, lx, t))
			return false;
		next_tok(lx, t);
		if (!tok_punct(lx, t, '.'))
			break;
		if (o + 1 >= outlen)
			return false;
		out[o++] = '.';
		next_tok(lx, t);
	}
	if (from && tok_punct(lx, t, '(')) /* FROM generate_series(...): not a table */
		return false;
	out[o] = '\0';
	return o > 0;
}

/* After '(' was read: skips to its matching ')'. */
static bool skip_parens(struct lexer *lx)
{
	struct tok t;
	unsigned depth = 1;

	for (;;) {
		next_tok(lx, &t);
		if (t.kind == T_END)
			return false;
		if (tok_punct(lx, &t, '('))
			depth++;
		else if (tok_punct(lx, &t, ')') && --depth == 0)
			return true;
	}
}

/* Finds FROM at this statement's own parenthesis level (not EXTRACT(x FROM y)). */
static bool find_from(struct lexer *lx, struct tok *t)
{
	unsigned depth = 0;

	for (;;) {
		next_tok(lx, t);
		if (t->kind == T_END)
			return false;
		if (tok_punct(lx, t, '(')) {
			depth++;
		} else if (tok_punct(lx, t, ')')) {
			if (depth == 0)
				return false;
			depth--;
		} else if (depth == 0 && tok_punct(lx, t, ';')) {
			return false;
		} else if (depth == 0 && tok_word(lx, t, "FROM")) {
			return true;
		}
	}
}

/* WITH [RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (...) [, ...] VERB: on success t
 * is the verb. SEARCH/CYCLE clauses and anything else unusual give up (caller says WITH). */
static bool with_main_verb(struct lexer *lx, struct tok *t)
{
	next_tok(lx, t);
	if (tok_word(lx, t, "RECURSIVE"))
		next_tok(lx, t);
	for (;;) {
		if (!tok_usable(lx, t))
			return false;
		next_tok(lx, t);
		if (tok_punct(lx, t, '(')) {
			if (!skip_parens(lx))
				return false;
			next_tok(lx, t);
		}
		if (!tok_word(lx, t, "AS"))
			return false;
		next_tok(lx, t);
		if (tok_word(lx, t, "NOT"))
			next_tok(lx, t);
		if (tok_word(lx, t, "MATERIALIZED"))
			next_tok(lx, t);
		if (!tok_punct(lx, t, '(') || !skip_parens(lx))
			return false;
		next_tok(lx, t);
		if (!tok_punct(lx, t, ','))
			break;
		next_tok(lx, t);
	}
	return t->kind == T_WORD && !(t->open && lx->truncated) && !tok_word(lx, t, "SEARCH") &&
	       !tok_word(lx, t, "CYCLE");
}

/* The relation the verb acts on, the lexer being just after the verb. */
static void table_of(struct lexer *lx, const char *verb, char *table, size_t tablelen)
{
	struct tok t;
	const char *into = NULL; /* keyword that must follow the verb */

	if (!strcmp(verb, "SELECT")) {
		if (!find_from(lx, &t))
			return;
	} else if (!strcmp(verb, "INSERT") || !strcmp(verb, "MERGE")) {
		into = "INTO";
	} else if (!strcmp(verb, "DELETE")) {
		into = "FROM";
	} else if (strcmp(verb, "UPDATE") && strcmp(verb, "COPY") && strcmp(verb, "TRUNCATE")) {
		return;
	}
	if (into) {
		next_tok(lx, &t);
		if (!tok_word(lx, &t, into))
			return;
	}
	next_tok(lx, &t);
	if (!strcmp(verb, "TRUNCATE") && tok_word(lx, &t, "TABLE"))
		next_tok(lx, &t);
	if (tok_word(lx, &t, "ONLY"))
		next_tok(lx, &t);
	if (tok_word(lx, &t, "LATERAL"))
		return;
	if (!read_name(lx, &t, !strcmp(verb, "SELECT"), table, tablelen) && tablelen)
		table[0] = '\0';
}

/* SQL keywords are ASCII letters (and _): anything else is not named, which also keeps
 * operation labels valid UTF-8 and few. */
static bool keyword(const struct lexer *lx, const struct tok *t)
{
	if (t->kind != T_WORD || (t->open && lx->truncated))
		return false;
	for (size_t i = 0; i < t->len; i++)
		if (!(sql_alnum((unsigned char)lx->s[t->start + i]) || lx->s[t->start + i] == '_'))
			return false; /* sql_alnum() is ASCII only */
	return true;
}

void sql_operation_prefix(const char *sql, size_t len, bool truncated, char *op, size_t oplen,
			  char *table, size_t tablelen)
{
	struct lexer lx = { .s = sql, .n = sql ? len : 0, .truncated = truncated };
	struct tok t;
	char verb[32];

	if (oplen)
		op[0] = '\0';
	if (tablelen)
		table[0] = '\0';
	do
		next_tok(&lx, &t);
	while (tok_punct(&lx, &t, '('));
	if (!keyword(&lx, &t))
		return;
	copy_upper(verb, sizeof(verb), sql + t.start, t.len);
	if (!strcmp(verb, "WITH")) {
		if (!with_main_verb(&lx, &t) || !keyword(&lx, &t)) {
			copy_upper(op, oplen, "WITH", 4);
			return;
		}
		copy_upper(verb, sizeof(verb), sql + t.start, t.len);
	}
	copy_upper(op, oplen, verb, strlen(verb));
	table_of(&lx, verb, table, tablelen);
}

void sql_operation(const char *sql, size_t len, char *op, size_t oplen, char *table,
		   size_t tablelen)
{
	sql_operation_prefix(sql, len, false, op, oplen, table, tablelen);
}

/* ---- streaming splitter ------------------------------------------------------------------ */

enum sp_state {
	SP_NORMAL,
	SP_DASH,  /* '-' seen: a comment if another follows */
	SP_SLASH, /* '/' seen: a comment if '*' follows */
	SP_LINE_COMMENT,
	SP_BLOCK,
	SP_BLOCK_STAR,
	SP_BLOCK_SLASH,
	SP_SQUOTE,
	SP_SQUOTE_END, /* quote seen inside '..': closes unless doubled */
	SP_ESTRING,
	SP_ESTRING_BS,
	SP_ESTRING_END,
	SP_DQUOTE,
	SP_DQUOTE_END,
	SP_DOLLAR_OPEN, /* reading the tag of $tag$ */
	SP_DOLLAR_BODY,
	SP_DOLLAR_CLOSE, /* matching $tag$ inside the body */
};

void sql_splitter_init(struct sql_splitter *s)
{
	memset(s, 0, sizeof(*s));
	s->prev = ' ';
}

static void sp_store(struct sql_splitter *s, char c)
{
	if (s->len < SQL_STMT_PREFIX)
		s->buf[s->len++] = c;
	else
		s->overflow = true;
}

/* Comments and runs of blanks become one blank; none at the start of a statement. */
static void sp_blank(struct sql_splitter *s)
{
	if (s->len > 0 && s->len < SQL_STMT_PREFIX && s->buf[s->len - 1] != ' ')
		sp_store(s, ' ');
	s->word_len = 0;
	s->prev = ' ';
}

static void sp_end_statement(struct sql_splitter *s, sql_stmt_fn fn, void *ctx)
{
	if (!s->disabled && (s->len > 0 || s->overflow)) {
		size_t len = s->len;

		if (!s->overflow && len && s->buf[len - 1] == ' ')
			len--;
		fn(ctx, s->buf, len, s->overflow);
	}
	s->len = 0;
	s->overflow = false;
	s->paren_depth = 0;
	s->word_len = 0;
	s->prev = ' ';
}

/* A byte that is part of the statement's text outside quotes and comments. */
static void sp_plain(struct sql_splitter *s, char c)
{
	sp_store(s, c);
	if (ident_char(c)) {
		if (s->word_len++ == 0)
			s->word_first = c;
	} else {
		s->word_len = 0;
	}
	s->prev = c;
}

static void sp_normal(struct sql_splitter *s, char c, sql_stmt_fn fn, void *ctx)
{
	switch (c) {
	case '-':
		s->state = SP_DASH;
		return;
	case '/':
		s->state = SP_SLASH;
		return;
	case '\'':
		s->state = s->word_len == 1 && (s->word_first == 'E' || s->word_first == 'e')
				   ? SP_ESTRING
				   : SP_SQUOTE;
		break;
	case '"':
		s->state = SP_DQUOTE;
		break;
	case '$':
		if (ident_char(s->prev)) { /* a$b is one identifier */
			sp_plain(s, c);
			return;
		}
		s->state = SP_DOLLAR_OPEN;
		s->tag_len = 0;
		break;
	case ';':
		if (s->paren_depth == 0) {
			sp_end_statement(s, fn, ctx);
			return;
		}
		break;
	case '(':
		s->paren_depth++;
		break;
	case ')':
		if (s->paren_depth)
			s->paren_depth--;
		break;
	default:
		if (sql_space((unsigned char)c)) {
			sp_blank(s);
			return;
		}
	}
	sp_plain(s, c);
}

static void sp_comment(struct sql_splitter *s, char c)
{
	switch (s->state) {
	case SP_LINE_COMMENT:
		if (c == '\n')
			s->state = SP_NORMAL;
		break;
	case SP_BLOCK:
		s->state = c == '*' ? SP_BLOCK_STAR : c == '/' ? SP_BLOCK_SLASH : SP_BLOCK;
		break;
	case SP_BLOCK_STAR:
		if (c == '/')
			s->state = --s->comment_depth ? SP_BLOCK : SP_NORMAL;
		else if (c != '*')
			s->state = SP_BLOCK;
		break;
	default: /* SP_BLOCK_SLASH */
		if (c == '*') {
			if (s->comment_depth < 255)
				s->comment_depth++;
			s->state = SP_BLOCK;
		} else if (c != '/') {
			s->state = SP_BLOCK;
		}
	}
}

/* Inside '..', E'..' or "..": the byte is kept (the tokenizer skips literals later). */
static bool sp_quoted(struct sql_splitter *s, char c)
{
	switch (s->state) {
	case SP_SQUOTE:
		if (c == '\'')
			s->state = SP_SQUOTE_END;
		break;
	case SP_ESTRING:
		if (c == '\\')
			s->state = SP_ESTRING_BS;
		else if (c == '\'')
			s->state = SP_ESTRING_END;
		break;
	case SP_ESTRING_BS:
		s->state = SP_ESTRING;
		break;
	case SP_DQUOTE:
		if (c == '"')
			s->state = SP_DQUOTE_END;
		break;
	case SP_SQUOTE_END:
	case SP_ESTRING_END:
	case SP_DQUOTE_END:
		if (c != (s->state == SP_DQUOTE_END ? '"' : '\''))
			return false; /* the quote closed; c is outside */
		s->state = s->state == SP_SQUOTE_END	? SP_SQUOTE
			   : s->state == SP_ESTRING_END ? SP_ESTRING
							: SP_DQUOTE;
		break;
	}
	sp_store(s, c);
	return true;
}

/* $tag$ ... $tag$; returns false when c ends a "$" that was not a dollar quote ($1). */
static bool sp_dollar(struct sql_splitter *s, char c)
{
	unsigned char u = c;

	if (s->state == SP_DOLLAR_OPEN) {
		if (c == '$') {
			s->state = SP_DOLLAR_BODY;
		} else if ((ident_start(u) || (s->tag_len && sql_digit(u))) &&
			   s->tag_len < SQL_DOLLAR_TAG_MAX) {
			s->tag[s->tag_len++] = c;
		} else {
			s->word_len = 0;
			s->prev = '$';
			return false;
		}
	} else if (s->state == SP_DOLLAR_BODY) {
		if (c == '$') {
			s->state = SP_DOLLAR_CLOSE;
			s->tag_match = 0;
		}
	} else if (s->tag_match < s->tag_len && c == s->tag[s->tag_match]) {
		s->tag_match++;
	} else if (s->tag_match == s->tag_len && c == '$') {
		s->state = SP_NORMAL;
		s->word_len = 0;
		s->prev = ' ';
	} else if (c == '$') {
		s->tag_match = 0;
	} else {
		s->state = SP_DOLLAR_BODY;
	}
	sp_store(s, c);
	return true;
}

static void sp_step(struct sql_splitter *s, char c, sql_stmt_fn fn, void *ctx)
{
	switch (s->state) {
	case SP_NORMAL:
		sp_normal(s, c, fn, ctx);
		return;
	case SP_DASH:
	case SP_SLASH:
		if (c == (s->state == SP_DASH ? '-' : '*')) {
			s->comment_depth = 1;
			s->state = s->state == SP_DASH ? SP_LINE_COMMENT : SP_BLOCK;
			sp_blank(s);
			return;
		}
		sp_plain(s, s->state == SP_DASH ? '-' : '/');
		s->state = SP_NORMAL;
		sp_normal(s, c, fn, ctx);
		return;
	case SP_LINE_COMMENT:
	case SP_BLOCK:
	case SP_BLOCK_STAR:
	case SP_BLOCK_SLASH:
		sp_comment(s, c);
		return;
	case SP_DOLLAR_OPEN:
	case SP_DOLLAR_BODY:
	case SP_DOLLAR_CLOSE:
		if (!sp_dollar(s, c)) {
			s->state = SP_NORMAL;
			sp_normal(s, c, fn, ctx);
		}
		return;
	default:
		if (!sp_quoted(s, c)) {
			s->state = SP_NORMAL;
			sp_normal(s, c, fn, ctx);
		}
	}
}

/* The bytes SP_NORMAL cannot take without a look at what follows or a change of state:
 * - / ' " $ ; (one bit each, offset from 0x20). */
static bool sp_special(unsigned char c)
{
	return (unsigned char)(c - 0x20) < 32 && (0x800a094u >> (c - 0x20) & 1);
}

/*
 * The bulk of the text in SP_NORMAL: from p[0], the bytes up to the first special one (or
 * n), done as sp_normal() does them one by one (blanks folded, parentheses counted, the
 * bytes stored, the identifier just before tracked), without its calls. Returns how many.
 * An identifier longer than word_len counts (65535 bytes) is left to sp_normal().
 */
static size_t sp_normal_run(struct sql_splitter *s, const char *p, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++) {
		unsigned char c = (unsigned char)p[k];

		if (sp_special(c) || s->word_len == UINT16_MAX)
			break;
		if (sql_space(c)) {
			if (s->len > 0 && s->len < SQL_STMT_PREFIX && s->buf[s->len - 1] != ' ')
				s->buf[s->len++] = ' ';
			s->word_len = 0;
			s->prev = ' ';
			continue;
		}
		if (c == '(')
			s->paren_depth++;
		else if (c == ')' && s->paren_depth)
			s->paren_depth--;
		if (s->len < SQL_STMT_PREFIX)
			s->buf[s->len++] = (char)c;
		else
			s->overflow = true;
		if (ident_char(c)) {
			if (s->word_len++ == 0)
				s->word_first = (char)c;
		} else {
			s->word_len = 0;
		}
		s->prev = (char)c;
	}
	return k;
}

void sql_splitter_feed(struct sql_splitter *s, const char *p, size_t n, sql_stmt_fn fn, void *ctx)
{
	size_t i = 0;

	if (s->disabled)
		return;
	while (i < n) {
		if (s->state == SP_NORMAL) {
			i += sp_normal_run(s, p + i, n - i);
			if (i == n)
				break;
		}
		sp_step(s, p[i++], fn, ctx);
	}
}

void sql_splitter_finish(struct sql_splitter *s, bool lost, sql_stmt_fn fn, void *ctx)
{
	if (s->disabled)
		return;
	if (lost) {
		/* The rest of the text was not captured: what we hold is a prefix. */
		if (s->len > 0 || s->overflow)
			fn(ctx, s->buf, s->len, true);
		s->disabled = true;
		return;
	}
	if (s->state == SP_DASH || s->state == SP_SLASH)
		sp_plain(s, s->state == SP_DASH ? '-' : '/');
	s->state = SP_NORMAL;
	sp_end_statement(s, fn, ctx);
}

struct split_count {
	sql_stmt_fn fn;
	void *ctx;
	size_t n;
};

static void count_stmt(void *ctx, const char *stmt, size_t len, bool truncated)
{
	struct split_count *sc = ctx;

	sc->n++;
	if (sc->fn)
		sc->fn(sc->ctx, stmt, len, truncated);
}

size_t sql_split_statements(const char *sql, size_t len, sql_stmt_fn fn, void *ctx)
{
	struct sql_splitter s;
	struct split_count sc = { .fn = fn, .ctx = ctx };

	sql_splitter_init(&s);
	sql_splitter_feed(&s, sql, sql ? len : 0, count_stmt, &sc);
	sql_splitter_finish(&s, false, count_stmt, &sc);
	return sc.n;
}
