/* The v2 repository: setup, index loading, trees and the latest pointer;
 * see repo.h. Backup, restore and pruning are in repo-backup.c,
 * repo-restore.c and repo-prune.c. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zstd.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "repo.h"
#include "s3.h"

#define INDEX_OBJECT_MAX (64 * 1024 * 1024)

int repo_init(struct repo *r, struct s3_client *s, const struct config *c, repo_client_fn fn)
{
	const char *why = NULL;
	int k;

	memset(r, 0, sizeof(*r));
	r->s = s;
	r->c = c;
	r->new_client = fn;
	r->workers = 3;
	k = repo_key_load(c->state_encryption_key_file, &r->key, &why);
	if (k < 0)
		return log_error_errno(k, "state.encryption.key_file: %s %s",
				       c->state_encryption_key_file, strempty(why));
	return 0;
}

void repo_done(struct repo *r)
{
	repo_key_done(&r->key);
	repo_index_done(&r->index);
}

char *repo_object_key(const struct repo *r, const char *dir, const char *name)
{
	return xasprintf("%s%s%s", r->c->state_storage_prefix, dir, name);
}

struct name_list {
	char **v;
	size_t n;
	size_t skip;
};

static int on_index_key(const char *key, uint64_t size, void *userdata)
{
	struct name_list *l = userdata;

	(void)size;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->v[l->n++] = xstrdup(key + l->skip);
	return 0;
}

/* Opens an index object's payload: zstd text. */
static int index_decode(struct repo *r, const char *name, char *obj, size_t size)
{
	_cleanup_free_ char *ad = xasprintf("index:%s", name), *text = NULL;
	unsigned long long raw;
	void *z;
	size_t zn, n;
	int k;

	k = repo_open(&r->key, ad, obj, size, &z, &zn);
	if (k < 0)
		return k;
	raw = ZSTD_getFrameContentSize(z, zn);
	if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN ||
	    raw > INDEX_OBJECT_MAX)
		return -EBADMSG;
	text = xmalloc((size_t)raw + 1);
	n = ZSTD_decompress(text, (size_t)raw, z, zn);
	if (ZSTD_isError(n) || n != raw)
		return -EBADMSG;
	return repo_index_parse(&r->index, text, n);
}

/* The local cache of index objects: <runtime_dir>/index-cache/<hash of
 * endpoint, bucket and prefix>/<name>, the objects as stored (still sealed:
 * they are opened, and authenticated, on every use). Index objects are
 * never rewritten under a name, so a cached one is good while the bucket
 * lists that name; the others are dropped. */
static char *cache_dir(const struct repo *r)
{
	_cleanup_free_ char *what =
	    xasprintf("%s\n%s\n%s", strempty(r->c->state_storage_endpoint),
		      r->c->state_storage_bucket, r->c->state_storage_prefix);
	unsigned char h[16];
	char hex[33];

	if (sodium_init() < 0)
		return NULL;
	crypto_generichash(h, sizeof(h), (const unsigned char *)what, strlen(what), NULL, 0);
	repo_hex(h, sizeof(h), hex);
	return xasprintf("%s/index-cache/%s", r->c->runtime_dir, hex);
}

/* Drops cached objects the bucket no longer lists. */
static void cache_prune(const char *dir, const struct name_list *l)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int listed = 0;
		if (de->d_name[0] == '.')
			continue;
		for (size_t i = 0; i < l->n && !listed; i++)
			listed = streq(l->v[i], de->d_name);
		if (!listed)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

int repo_load_index(struct repo *r, int skip_foreign)
{
	_cleanup_free_ char *prefix = repo_object_key(r, "index/", ""), *dir = cache_dir(r);
	struct name_list l = {.skip = strlen(prefix)};
	size_t cached = 0;
	int k = 0;

	if (r->index_loaded)
		return 0;
	k = s3_list(r->s, prefix, on_index_key, &l);
	if (k < 0)
		log_error("%s", s3_last_error(r->s));
	if (k >= 0 && dir && mkdir_p(dir, 0700) < 0)
		dir = (free(dir), NULL);
	for (size_t i = 0; i < l.n && k >= 0; i++) {
		_cleanup_free_ char *key = repo_object_key(r, "index/", l.v[i]), *obj = NULL,
				    *path = NULL;
		size_t size = 0;

		if (strchr(l.v[i], '/') || l.v[i][0] == '.')
			continue; /* not one of ours */
		path = dir ? xasprintf("%s/%s", dir, l.v[i]) : NULL;
		if (path && read_file(path, INDEX_OBJECT_MAX, &obj, &size) >= 0)
			cached++;
		else {
			k = s3_get_buffer(r->s, key, INDEX_OBJECT_MAX, &obj, &size);
			if (k < 0) {
				log_error("%s", s3_last_error(r->s));
				break;
			}
			if (path)
				(void)write_file_replace(path, obj, size, 0600);
		}
		k = index_decode(r, l.v[i], obj, size);
		if (k < 0 && skip_foreign &&
		    (k == -ENOKEY || k == -EKEYREJECTED || k == -EPERM)) {
			log_info("Index %s is not of this key (%s); its chunks are not reused",
				 l.v[i], repo_open_strerror(k));
			k = 0;
		} else if (k < 0) {
			log_error("Index object s3://%s/%s %s", r->c->state_storage_bucket, key,
				  repo_open_strerror(k));
			if (path)
				(void)unlink(path);
		}
	}
	if (k >= 0 && dir)
		cache_prune(dir, &l);
	log_debug("Index: %zu objects, %zu from the local cache, %zu chunks", l.n, cached,
		  r->index.n);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	if (k < 0)
		return k;
	r->index_loaded = 1;
	r->loaded_packs = r->index.n_packs;
	return 0;
}

int repo_read_tree(struct repo *r, const char *id, struct repo_tree *t, char **ret_text)
{
	_cleanup_free_ char *name = xasprintf("%s.tree", id), *obj = NULL, *text = NULL;
	_cleanup_free_ char *key = repo_object_key(r, "generations/", name);
	size_t size = 0, n = 0;
	int k;

	k = s3_get_buffer(r->s, key, REPO_TREE_MAX, &obj, &size);
	if (k == -ENOENT)
		return k; /* the caller decides: perhaps a v1 generation */
	if (k < 0)
		return log_error_errno(k, "%s", s3_last_error(r->s));
	k = repo_tree_open(&r->key, id, obj, size, &text, &n);
	if (k < 0)
		return log_error_errno(k, "Generation %s: its tree %s", id, repo_open_strerror(k));
	k = repo_tree_parse(text, n, t);
	if (k < 0)
		return log_error_errno(k, "Generation %s: its tree is malformed", id);
	*ret_text = TAKE_PTR(text);
	return 0;
}

void repo_latest_seal(const struct repo *r, const char *id, const char *tree_digest,
		      const struct repo_stats *st, void **ret, size_t *ret_size)
{
	_cleanup_free_ char *json = xasprintf(
	    "{\"generation\": \"%s\", \"tree_digest\": \"%s\", \"files\": %" PRIu64
	    ", \"bytes\": %" PRIu64 ", \"stored\": %" PRIu64 "}\n",
	    id, tree_digest, st->files, st->bytes, st->stored);

	if (!r->key.encrypted) {
		/* plain: the same JSON as v1, readable by older agentbox versions */
		*ret_size = strlen(json);
		*ret = TAKE_PTR(json);
		return;
	}
	repo_seal(&r->key, "latest", json, strlen(json), ret, ret_size);
}

int repo_latest_open(const struct repo *r, char *obj, size_t size, char **ret_json)
{
	void *p;
	size_t n;
	int k;

	if (size < 3 || memcmp(obj, "AB2", 3) != 0) {
		if (r->key.encrypted)
			return -EPERM;
		*ret_json = xasprintf("%.*s", (int)size, obj);
		return 0;
	}
	k = repo_open(&r->key, "latest", obj, size, &p, &n);
	if (k < 0)
		return k;
	*ret_json = xasprintf("%.*s", (int)n, (const char *)p);
	return 0;
}
