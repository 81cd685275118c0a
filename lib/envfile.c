/* KEY=VALUE files; see envfile.h.
 *
 * Grammar, one entry per line:
 *   line  = blank | "#" comment | ["export" blank+] KEY "=" value
 *   KEY   = [A-Za-z_][A-Za-z0-9_]*          (no blanks before "=")
 *   value = blank* (raw | '"' text '"' | "'" text "'") blank* [comment]
 * A raw value runs to the end of the line or to a " #" comment, blanks
 * around it cut. Quotes keep everything between them verbatim: there are
 * no escapes, so no value can hold a newline. Control characters other
 * than tab are refused anywhere, and a key may be set only once. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envfile.h"
#include "fileio.h"
#include "macro.h"

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int key_char(char ch, int first)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' ||
	       (!first && ch >= '0' && ch <= '9');
}

static int fail(char **ret_error, const char *origin, unsigned line, const char *fmt, ...)
    _printf_(4, 5);
static int fail(char **ret_error, const char *origin, unsigned line, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	*ret_error = xasprintf("%s:%u: %s", origin, line, msg);
	return -EINVAL;
}

/* Parses one line (NUL-terminated, no newline) into key and value; a
 * blank or comment line leaves them NULL. */
static int parse_line(char *s, const char *origin, unsigned line, char **ret_key, char **ret_value,
		      char **ret_error)
{
	char *key, *v, *end;

	*ret_key = *ret_value = NULL;
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return fail(ret_error, origin, line, "control character 0x%02x",
				    (unsigned char)*p);
		else if (*p == 0x7f)
			return fail(ret_error, origin, line, "control character 0x7f");
	while (is_blank(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	if (strncmp(s, "export", 6) == 0 && is_blank(s[6])) {
		s += 6;
		while (is_blank(*s))
			s++;
	}
	key = s;
	if (!key_char(*s, 1))
		return fail(ret_error, origin, line,
			    "expected KEY=VALUE (a key is letters, digits and _)");
	while (key_char(*s, 0))
		s++;
	if (*s != '=')
		return fail(ret_error, origin, line, "expected '=' after the key '%.*s'",
			    (int)(s - key), key);
	*s++ = '\0';
	while (is_blank(*s))
		s++;
	if (*s == '"' || *s == '\'') {
		char q = *s++;
		v = s;
		end = strchr(s, q);
		if (!end)
			return fail(ret_error, origin, line,
				    "%s: no closing %c (values cannot span lines)", key, q);
		*end++ = '\0';
		while (is_blank(*end))
			end++;
		if (*end != '\0' && *end != '#')
			return fail(ret_error, origin, line, "%s: text after the closing quote",
				    key);
	} else {
		v = s;
		for (end = s; *end; end++)
			if (*end == '#' && end > s && is_blank(end[-1]))
				break;
		*end = '\0';
		while (end > v && is_blank(end[-1]))
			*--end = '\0';
	}
	*ret_key = xstrdup(key);
	*ret_value = xstrdup(v);
	return 0;
}

int envfile_parse(const char *text, const char *origin, struct envfile **ret, char **ret_error)
{
	_cleanup_(envfile_freep) struct envfile *e = calloc(1, sizeof(*e));
	const char *p = text;
	unsigned line = 0;
	size_t cap = 0;

	*ret_error = NULL;
	if (!e)
		abort();
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		_cleanup_free_ char *buf = NULL, *key = NULL, *value = NULL;
		const struct envfile_entry *old;
		int r;

		line++;
		if (len > ENVFILE_MAX_LINE)
			return fail(ret_error, origin, line, "line longer than %d bytes",
				    ENVFILE_MAX_LINE);
		buf = strndup(p, len);
		if (!buf)
			abort();
		if (len > 0 && buf[len - 1] == '\r')
			buf[len - 1] = '\0'; /* a file written on Windows */
		p = nl ? nl + 1 : p + len;
		r = parse_line(buf, origin, line, &key, &value, ret_error);
		if (r < 0)
			return r;
		if (!key)
			continue;
		old = envfile_get(e, key);
		if (old)
			return fail(ret_error, origin, line, "%s is set twice (first on line %u)",
				    key, old->line);
		if (e->n == cap) {
			cap = cap ? 2 * cap : 16;
			e->entries = xrealloc(e->entries, cap * sizeof(*e->entries));
		}
		e->entries[e->n++] = (struct envfile_entry){TAKE_PTR(key), TAKE_PTR(value), line};
	}
	*ret = TAKE_PTR(e);
	return 0;
}

int envfile_load(const char *path, struct envfile **ret, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = read_file(path, ENVFILE_MAX_SIZE, &text, NULL);
	if (r < 0) {
		*ret_error =
		    xasprintf("%s: %s", path,
			      r == -EFBIG ? "larger than 256 KiB, not an env file" : strerror(-r));
		return r;
	}
	return envfile_parse(text, path, ret, ret_error);
}

const struct envfile_entry *envfile_get(const struct envfile *e, const char *key)
{
	for (size_t i = 0; e && i < e->n; i++)
		if (strcmp(e->entries[i].key, key) == 0)
			return &e->entries[i];
	return NULL;
}

struct envfile *envfile_free(struct envfile *e)
{
	if (!e)
		return NULL;
	for (size_t i = 0; i < e->n; i++) {
		free(e->entries[i].key);
		freezero_str(e->entries[i].value);
	}
	free(e->entries);
	free(e);
	return NULL;
}
