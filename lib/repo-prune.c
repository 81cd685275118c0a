/* Retention's mark and sweep over packs; see repo.h.
 *
 * Mark: every chunk a kept tree names. Sweep: a pack none of whose blobs
 * is marked is deleted; a pack with any marked blob is kept whole (no
 * repacking: a partly used pack costs storage, never a download of more
 * than it holds). Order, so that a prune killed anywhere leaves a usable
 * repository: a new index of the kept packs first, then the old index
 * objects, then the unused packs (and packs no index names: leftovers of
 * killed backups). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "repo-pack.h"
#include "repo.h"
#include "s3.h"

/* More index objects than this are merged into one even when no pack goes. */
#define INDEX_MERGE_AT 16

struct keys {
	char **v;
	size_t n, skip;
};

static int on_key(const char *key, uint64_t size, void *userdata)
{
	struct keys *l = userdata;

	(void)size;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->v[l->n++] = xstrdup(key + l->skip);
	return 0;
}

static void keys_done(struct keys *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int list_names(struct repo *r, const char *dir, struct keys *ret)
{
	_cleanup_free_ char *prefix = repo_object_key(r, dir, "");
	int k;

	ret->skip = strlen(prefix);
	k = s3_list(r->s, prefix, on_key, ret);
	if (k < 0)
		log_warning("%s; pruning skipped, ignoring", s3_last_error(r->s));
	return k;
}

int repo_prune(struct repo *r, char *const *keep, size_t n_keep)
{
	_cleanup_free_ unsigned char *live_pack = NULL;
	_cleanup_free_ char *text = NULL, *name = NULL, *ad = NULL, *key = NULL;
	_cleanup_free_ void *z = NULL, *obj = NULL;
	struct keys packs = {0}, indexes = {0};
	size_t size = 0, zn, n = 0, dead = 0, orphans = 0;
	char pname[REPO_PACK_NAME_MAX];
	int k;

	k = repo_load_index(r, 0);
	if (k < 0) {
		log_warning("Not pruning packs: the index cannot be read in full");
		return k;
	}
	for (size_t i = 0; i < r->index.n_slots; i++)
		r->index.slots[i].live = 0;
	for (size_t g = 0; g < n_keep; g++) {
		_cleanup_free_ char *t = NULL;
		struct repo_tree tree = {0};

		k = repo_read_tree(r, keep[g], &tree, &t);
		if (k < 0) {
			log_warning("Not pruning packs: the tree of kept generation %s cannot be "
				    "read",
				    keep[g]);
			return k;
		}
		for (size_t i = 0; i < tree.n; i++)
			for (size_t c = 0; c < tree.v[i].n_chunks; c++) {
				struct repo_blob *b = repo_index_find(&r->index, tree.v[i].chunks[c]);
				if (b)
					b->live = 1;
			}
		repo_tree_done(&tree);
	}
	live_pack = xcalloc(r->index.n_packs + 1, 1);
	for (size_t i = 0; i < r->index.n_slots; i++)
		if (r->index.slots[i].live && r->index.slots[i].pack != UINT32_MAX)
			live_pack[r->index.slots[i].pack] = 1;
	if (list_names(r, "packs/", &packs) < 0 || list_names(r, "index/", &indexes) < 0) {
		keys_done(&packs);
		keys_done(&indexes);
		return -EIO;
	}
	for (size_t i = 0; i < packs.n; i++) {
		uint32_t p;
		for (p = 0; p < r->index.n_packs; p++)
			if (streq(r->index.packs[p], packs.v[i]))
				break;
		if (p == r->index.n_packs)
			orphans++;
		else if (!live_pack[p])
			dead++;
	}
	if (dead == 0 && orphans == 0 && indexes.n <= INDEX_MERGE_AT) {
		keys_done(&packs);
		keys_done(&indexes);
		return 0;
	}

	/* the new index: blobs of the kept packs */
	repo_index_format(&r->index, live_pack, &text, &size);
	z = xmalloc(ZSTD_compressBound(size));
	zn = ZSTD_compress(z, ZSTD_compressBound(size), text, size, 3);
	if (ZSTD_isError(zn)) {
		k = -EIO;
		goto out;
	}
	repo_pack_name(pname);
	name = xasprintf("merged-%s", pname);
	ad = xasprintf("index:%s", name);
	repo_seal(&r->key, ad, z, zn, &obj, &n);
	key = repo_object_key(r, "index/", name);
	k = s3_put(r->s, key, obj, n, "application/octet-stream");
	if (k < 0) {
		log_warning("%s; pruning skipped, ignoring", s3_last_error(r->s));
		goto out;
	}
	for (size_t i = 0; i < indexes.n; i++) {
		_cleanup_free_ char *ik = repo_object_key(r, "index/", indexes.v[i]);
		if (streq(indexes.v[i], name))
			continue;
		k = s3_delete(r->s, ik);
		if (k < 0) {
			log_warning("%s; pruning stopped, ignoring", s3_last_error(r->s));
			goto out;
		}
	}
	for (size_t i = 0; i < packs.n; i++) {
		_cleanup_free_ char *pk = NULL;
		uint32_t p;
		for (p = 0; p < r->index.n_packs; p++)
			if (streq(r->index.packs[p], packs.v[i]))
				break;
		if (p < r->index.n_packs && live_pack[p])
			continue;
		pk = repo_object_key(r, "packs/", packs.v[i]);
		k = s3_delete(r->s, pk);
		if (k < 0) {
			log_warning("%s; pruning stopped, ignoring", s3_last_error(r->s));
			goto out;
		}
	}
	log_info("Pruned %zu unused packs and %zu left by interrupted backups; %zu index objects "
		 "merged into one",
		 dead, orphans, indexes.n);
	/* the in-memory index still names the deleted packs: load it anew */
	repo_index_done(&r->index);
	r->index_loaded = 0;
	k = 0;
out:
	keys_done(&packs);
	keys_done(&indexes);
	return k;
}
