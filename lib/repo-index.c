/* The chunk index of a v2 repository; see repo-index.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "repo-index.h"

void repo_index_done(struct repo_index *x)
{
	free(x->slots);
	free(x->packs);
	memset(x, 0, sizeof(*x));
}

static int id_empty(const unsigned char *id)
{
	for (size_t i = 0; i < REPO_ID_SIZE; i++)
		if (id[i])
			return 0;
	return 1;
}

/* The slot of id, or the empty slot where it would go. Ids are uniform
 * hashes: their first bytes are the hash. */
static struct repo_blob *slot_of(const struct repo_index *x, const unsigned char *id)
{
	uint64_t h;
	size_t i;

	memcpy(&h, id, sizeof(h));
	for (i = (size_t)h & (x->n_slots - 1);; i = (i + 1) & (x->n_slots - 1)) {
		struct repo_blob *b = &x->slots[i];
		if (id_empty(b->id) || memcmp(b->id, id, REPO_ID_SIZE) == 0)
			return b;
	}
}

struct repo_blob *repo_index_find(const struct repo_index *x, const unsigned char *id)
{
	struct repo_blob *b;

	if (!x->n_slots)
		return NULL;
	b = slot_of(x, id);
	return id_empty(b->id) ? NULL : b;
}

static void grow(struct repo_index *x)
{
	struct repo_blob *old = x->slots;
	size_t n_old = x->n_slots;

	x->n_slots = n_old ? n_old * 2 : 1024;
	x->slots = xcalloc(x->n_slots, sizeof(*x->slots));
	for (size_t i = 0; i < n_old; i++)
		if (!id_empty(old[i].id))
			*slot_of(x, old[i].id) = old[i];
	free(old);
}

struct repo_blob *repo_index_add(struct repo_index *x, const unsigned char *id, int *ret_new)
{
	struct repo_blob *b;

	if ((x->n + 1) * 2 > x->n_slots)
		grow(x);
	b = slot_of(x, id);
	*ret_new = id_empty(b->id);
	if (*ret_new) {
		memset(b, 0, sizeof(*b));
		memcpy(b->id, id, REPO_ID_SIZE);
		b->pack = UINT32_MAX;
		x->n++;
	}
	return b;
}

uint32_t repo_index_pack(struct repo_index *x, const char *name)
{
	for (size_t i = x->n_packs; i-- > 0;)
		if (streq(x->packs[i], name))
			return (uint32_t)i;
	x->packs = xrealloc(x->packs, (x->n_packs + 1) * sizeof(*x->packs));
	snprintf(x->packs[x->n_packs], REPO_PACK_NAME_MAX, "%s", name);
	return (uint32_t)x->n_packs++;
}

/* A pack name: lowercase hex digits only (it becomes part of a key). */
static int pack_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= REPO_PACK_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int repo_index_parse(struct repo_index *x, const char *text, size_t size)
{
	const char *p = text, *end = text + size;
	uint32_t pack = UINT32_MAX;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[256];

		if (n >= sizeof(line))
			return -EBADMSG;
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + 1;
		if (n == 0)
			continue;
		if (startswith(line, "pack ")) {
			if (!pack_name_ok(line + 5, n - 5))
				return -EBADMSG;
			pack = repo_index_pack(x, line + 5);
		} else {
			unsigned char id[REPO_ID_SIZE];
			unsigned long long off, len, raw;
			char hex[REPO_ID_HEX];
			struct repo_blob *b;
			int isnew;

			if (pack == UINT32_MAX ||
			    sscanf(line, "%64s %llu %llu %llu", hex, &off, &len, &raw) != 4 ||
			    strlen(hex) != 64 || repo_unhex(hex, id, REPO_ID_SIZE) < 0 ||
			    id_empty(id) || len > UINT32_MAX || raw > UINT32_MAX)
				return -EBADMSG;
			b = repo_index_add(x, id, &isnew);
			if (!isnew && b->pack != UINT32_MAX)
				continue; /* the same chunk in two packs: either will do */
			b->pack = pack;
			b->offset = off;
			b->length = (uint32_t)len;
			b->raw_length = (uint32_t)raw;
		}
	}
	return 0;
}

/* qsort order: by pack, then by offset. */
static int blob_cmp(const void *a, const void *b)
{
	const struct repo_blob *x = *(const struct repo_blob *const *)a,
			       *y = *(const struct repo_blob *const *)b;

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

void repo_index_format(const struct repo_index *x, const unsigned char *keep_packs, char **buf,
		       size_t *size)
{
	_cleanup_free_ const struct repo_blob **v = xcalloc(x->n + 1, sizeof(*v));
	FILE *f = open_memstream(buf, size);
	size_t n = 0;
	uint32_t last = UINT32_MAX;

	if (!f)
		abort();
	for (size_t i = 0; i < x->n_slots; i++) {
		const struct repo_blob *b = &x->slots[i];
		if (!id_empty(b->id) && b->pack != UINT32_MAX && (!keep_packs || keep_packs[b->pack]))
			v[n++] = b;
	}
	qsort(v, n, sizeof(*v), blob_cmp);
	for (size_t i = 0; i < n; i++) {
		char hex[REPO_ID_HEX];

		if (v[i]->pack != last) {
			last = v[i]->pack;
			fprintf(f, "pack %s\n", x->packs[last]);
		}
		repo_hex(v[i]->id, REPO_ID_SIZE, hex);
		fprintf(f, "%s %" PRIu64 " %u %u\n", hex, v[i]->offset, v[i]->length,
			v[i]->raw_length);
	}
	fclose(f);
}
