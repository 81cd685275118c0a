/* Trees of v2 generations; see repo-tree.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "macro.h"
#include "repo-tree.h"

static void write_escaped(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p == '%' || *p == 0x7f)
			fprintf(f, "%%%02x", *p);
		else
			fputc(*p, f);
	}
}

void repo_tree_write_entry(FILE *f, const struct repo_entry *e)
{
	fprintf(f, "%c %o %u %u %lld %ld %" PRIu64 " ", e->type, (unsigned)e->mode,
		(unsigned)e->uid, (unsigned)e->gid, (long long)e->mtime.tv_sec, e->mtime.tv_nsec,
		e->size);
	write_escaped(f, e->path);
	if (e->type == 'l') {
		fputc(' ', f);
		write_escaped(f, e->target);
	}
	for (size_t i = 0; i < e->n_chunks; i++) {
		char hex[REPO_ID_HEX];
		repo_hex(e->chunks[i], REPO_ID_SIZE, hex);
		fputc(' ', f);
		fputs(hex, f);
	}
	fputc('\n', f);
}

/* Unescapes s in place; -EBADMSG on a bad escape or an escaped NUL. */
static int unescape(char *s)
{
	char *o = s;
	unsigned char b;

	for (; *s; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		if (repo_unhex(s + 1, &b, 1) < 0 || b == 0)
			return -EBADMSG;
		*o++ = (char)b;
		s += 2;
	}
	*o = '\0';
	return 0;
}

void repo_tree_done(struct repo_tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].chunks);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* Parses one entry line (changed in place; e points into it). */
static int parse_entry(char *line, struct repo_entry *e)
{
	char *f[8], *save = NULL, *tok;
	unsigned mode, uid, gid;
	long long sec;
	long nsec;
	unsigned long long size;
	size_t n = 0, cap = 0;
	char *end;

	memset(e, 0, sizeof(*e));
	for (int i = 0; i < 8; i++) {
		f[i] = strtok_r(i ? NULL : line, " ", &save);
		if (!f[i])
			return -EBADMSG;
	}
	if (strlen(f[0]) != 1 || !strchr("dfl", f[0][0]))
		return -EBADMSG;
	e->type = f[0][0];
	errno = 0;
	mode = (unsigned)strtoul(f[1], &end, 8);
	if (*end || mode > 07777)
		return -EBADMSG;
	uid = (unsigned)strtoul(f[2], &end, 10);
	if (*end)
		return -EBADMSG;
	gid = (unsigned)strtoul(f[3], &end, 10);
	if (*end)
		return -EBADMSG;
	sec = strtoll(f[4], &end, 10);
	if (*end)
		return -EBADMSG;
	nsec = strtol(f[5], &end, 10);
	if (*end || nsec < 0 || nsec > 999999999)
		return -EBADMSG;
	size = strtoull(f[6], &end, 10);
	if (*end || errno)
		return -EBADMSG;
	if (unescape(f[7]) < 0)
		return -EBADMSG;
	e->mode = mode;
	e->uid = uid;
	e->gid = gid;
	e->mtime.tv_sec = sec;
	e->mtime.tv_nsec = nsec;
	e->size = size;
	e->path = f[7];
	if (e->type == 'l') {
		e->target = strtok_r(NULL, " ", &save);
		if (!e->target || unescape(e->target) < 0 || strtok_r(NULL, " ", &save))
			return -EBADMSG;
		return 0;
	}
	while ((tok = strtok_r(NULL, " ", &save))) {
		if (e->type != 'f' || strlen(tok) != 64)
			goto bad;
		if (n == cap) {
			cap = cap ? cap * 2 : 4;
			e->chunks = xrealloc(e->chunks, cap * REPO_ID_SIZE);
		}
		if (repo_unhex(tok, e->chunks[n], REPO_ID_SIZE) < 0)
			goto bad;
		n++;
	}
	e->n_chunks = n;
	if (e->type == 'f' && size > 0 && n == 0)
		goto bad;
	return 0;
bad:
	free(e->chunks);
	e->chunks = NULL;
	return -EBADMSG;
}

int repo_tree_parse(char *text, size_t size, struct repo_tree *ret)
{
	struct repo_tree t = {0};
	char *p = text, *end = text + size;
	size_t cap = 0;

	if (memchr(text, '\0', size))
		return -EBADMSG;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			goto bad; /* every line ends: a cut tree is refused */
		*nl = '\0';
		if (!t.header)
			t.header = p;
		else {
			if (t.n == cap) {
				cap = cap ? cap * 2 : 256;
				t.v = xrealloc(t.v, cap * sizeof(*t.v));
			}
			if (parse_entry(p, &t.v[t.n]) < 0)
				goto bad;
			t.n++;
		}
		p = nl + 1;
	}
	if (!t.header)
		goto bad;
	*ret = t;
	return 0;
bad:
	repo_tree_done(&t);
	return -EBADMSG;
}

int repo_tree_seal(const struct repo_key *k, const char *id, const char *text, size_t size,
		   void **ret, size_t *ret_size)
{
	size_t bound = ZSTD_compressBound(size), n;
	_cleanup_free_ void *z = xmalloc(bound);
	_cleanup_free_ char *ad = xasprintf("tree:%s", id);

	n = ZSTD_compress(z, bound, text, size, 3);
	if (ZSTD_isError(n))
		return -EIO;
	repo_seal(k, ad, z, n, ret, ret_size);
	return 0;
}

int repo_tree_open(const struct repo_key *k, const char *id, void *obj, size_t size, char **ret,
		   size_t *ret_size)
{
	_cleanup_free_ char *ad = xasprintf("tree:%s", id);
	unsigned long long raw;
	void *z;
	size_t zn, n;
	char *text;
	int r;

	r = repo_open(k, ad, obj, size, &z, &zn);
	if (r < 0)
		return r;
	raw = ZSTD_getFrameContentSize(z, zn);
	if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN ||
	    raw > REPO_TREE_MAX)
		return -EBADMSG;
	text = xmalloc((size_t)raw + 1);
	n = ZSTD_decompress(text, (size_t)raw, z, zn);
	if (ZSTD_isError(n) || n != raw) {
		free(text);
		return -EBADMSG;
	}
	text[n] = '\0';
	*ret = text;
	*ret_size = n;
	return 0;
}
