/* A v2 backup; see repo.h.
 *
 * The caller's thread walks the tree, reads each file, cuts it into
 * chunks and looks each chunk up in the index; a chunk the bucket lacks
 * goes into a bounded queue. Worker threads (each with its own S3 client
 * and zstd context) compress and seal chunks into their own pack and send
 * a pack once it holds REPO_PACK_TARGET bytes. Memory stays bounded: the
 * queue holds QUEUE_MAX chunks (<= CHUNK_MAX each), each worker one pack,
 * the reader one window of 2 * CHUNK_MAX.
 *
 * Order of writes: packs, then the index of the new packs, then the tree;
 * the caller writes "latest" last. A backup killed before the index leaves
 * packs that no index names, which pruning deletes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zstd.h>

#include "chunker.h"
#include "config.h"
#include "log.h"
#include "macro.h"
#include "repo-pack.h"
#include "repo.h"
#include "s3.h"
#include "state-exclude.h"
#include "tarball.h"

#define QUEUE_MAX 6
#define WINDOW (2 * CHUNK_MAX)
#define WORKERS_MAX 8

struct job {
	unsigned char id[REPO_ID_SIZE];
	unsigned char *data;
	size_t size;
};

struct pool;

struct worker {
	struct pool *pool;
	pthread_t thread;
	int started;
	struct s3_client *s;
	ZSTD_CCtx *cc;
	unsigned char *pack;
	size_t pack_size, pack_cap;
	struct repo_blob *pending; /* blobs in the unsent pack */
	size_t n_pending;
};

struct pool {
	struct repo *r;
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct job q[QUEUE_MAX];
	size_t head, n;
	int closed;
	int error;
	uint64_t uploaded;
	struct worker w[WORKERS_MAX];
	unsigned n_workers;
};

struct backup {
	struct repo *r;
	struct pool *pool;
	FILE *tree;
	struct repo_stats *stats;
	unsigned char *window;
	char *error_path;
};

/* Sends a worker's pack and records its blobs in the index. */
static int worker_flush(struct worker *w)
{
	struct pool *p = w->pool;
	char name[REPO_PACK_NAME_MAX];
	_cleanup_free_ char *key = NULL;
	int r;

	if (w->n_pending == 0)
		return 0;
	repo_pack_name(name);
	key = repo_object_key(p->r, "packs/", name);
	r = s3_put(w->s, key, w->pack, w->pack_size, "application/octet-stream");
	if (r < 0) {
		log_error("%s", s3_last_error(w->s));
		return r;
	}
	pthread_mutex_lock(&p->mu);
	{
		uint32_t pk = repo_index_pack(&p->r->index, name);
		for (size_t i = 0; i < w->n_pending; i++) {
			struct repo_blob *b = repo_index_find(&p->r->index, w->pending[i].id);
			b->pack = pk;
			b->offset = w->pending[i].offset;
			b->length = w->pending[i].length;
			b->raw_length = w->pending[i].raw_length;
		}
		p->uploaded += w->pack_size;
	}
	pthread_mutex_unlock(&p->mu);
	w->n_pending = 0;
	w->pack_size = 0;
	return 0;
}

/* Compresses and seals one chunk into the worker's pack. */
static int worker_add(struct worker *w, struct job *j)
{
	void *blob = NULL;
	size_t n = 0;
	int r;

	r = repo_blob_encode(&w->pool->r->key, w->cc, (int)w->pool->r->c->state_compression_level,
			     j->id, j->data, j->size, &blob, &n);
	if (r < 0)
		return r;
	if (w->pack_size + n > w->pack_cap) {
		w->pack_cap = MAX(w->pack_size + n, REPO_PACK_TARGET + CHUNK_MAX / 4);
		w->pack = xrealloc(w->pack, w->pack_cap);
	}
	memcpy(w->pack + w->pack_size, blob, n);
	free(blob);
	w->pending = xrealloc(w->pending, (w->n_pending + 1) * sizeof(*w->pending));
	memcpy(w->pending[w->n_pending].id, j->id, REPO_ID_SIZE);
	w->pending[w->n_pending].offset = w->pack_size;
	w->pending[w->n_pending].length = (uint32_t)n;
	w->pending[w->n_pending].raw_length = (uint32_t)j->size;
	w->n_pending++;
	w->pack_size += n;
	if (w->pack_size >= REPO_PACK_TARGET)
		return worker_flush(w);
	return 0;
}

static void *worker_main(void *userdata)
{
	struct worker *w = userdata;
	struct pool *p = w->pool;

	for (;;) {
		struct job j;
		int r;

		pthread_mutex_lock(&p->mu);
		while (p->n == 0 && !p->closed)
			pthread_cond_wait(&p->not_empty, &p->mu);
		if (p->n == 0) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		j = p->q[p->head];
		p->head = (p->head + 1) % QUEUE_MAX;
		p->n--;
		pthread_cond_signal(&p->not_full);
		r = p->error;
		pthread_mutex_unlock(&p->mu);
		if (r >= 0)
			r = worker_add(w, &j);
		free(j.data);
		if (r < 0) {
			pthread_mutex_lock(&p->mu);
			if (p->error >= 0)
				p->error = r;
			pthread_mutex_unlock(&p->mu);
		}
	}
	pthread_mutex_lock(&p->mu);
	if (p->error >= 0) {
		pthread_mutex_unlock(&p->mu);
		int r = worker_flush(w);
		pthread_mutex_lock(&p->mu);
		if (r < 0 && p->error >= 0)
			p->error = r;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Queues a chunk for the workers (waits while the queue is full). */
static int pool_submit(struct pool *p, const unsigned char *id, const void *data, size_t size)
{
	struct job j;
	int r;

	memcpy(j.id, id, REPO_ID_SIZE);
	j.data = xmalloc(size ? size : 1);
	memcpy(j.data, data, size);
	j.size = size;
	pthread_mutex_lock(&p->mu);
	while (p->n == QUEUE_MAX && p->error >= 0)
		pthread_cond_wait(&p->not_full, &p->mu);
	r = p->error;
	if (r >= 0) {
		p->q[(p->head + p->n) % QUEUE_MAX] = j;
		p->n++;
		pthread_cond_signal(&p->not_empty);
	}
	pthread_mutex_unlock(&p->mu);
	if (r < 0)
		free(j.data);
	return r;
}

static int pool_start(struct pool *p, struct repo *r)
{
	int k;

	memset(p, 0, sizeof(*p));
	p->r = r;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->not_empty, NULL);
	pthread_cond_init(&p->not_full, NULL);
	p->n_workers = MIN(MAX(r->workers, 1u), WORKERS_MAX);
	for (unsigned i = 0; i < p->n_workers; i++) {
		struct worker *w = &p->w[i];
		w->pool = p;
		k = r->new_client(r->c, &w->s);
		if (k < 0)
			return k;
		w->cc = ZSTD_createCCtx();
		k = -pthread_create(&w->thread, NULL, worker_main, w);
		if (k < 0)
			return log_error_errno(k, "Cannot start a backup worker: %m");
		w->started = 1;
	}
	return 0;
}

/* Closes the queue, waits for the workers (they send their last packs),
 * and frees them; the pool's error or 0. */
static int pool_finish(struct pool *p, int error)
{
	pthread_mutex_lock(&p->mu);
	p->closed = 1;
	if (error < 0 && p->error >= 0)
		p->error = error;
	pthread_cond_broadcast(&p->not_empty);
	pthread_cond_broadcast(&p->not_full);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n_workers; i++) {
		struct worker *w = &p->w[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		s3_client_free(w->s);
		ZSTD_freeCCtx(w->cc);
		free(w->pack);
		free(w->pending);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->not_empty);
	pthread_cond_destroy(&p->not_full);
	return p->error;
}

/* One chunk of a file: looked up, queued when new; its id goes to e. */
static int backup_chunk(struct backup *b, struct repo_entry *e, size_t *cap,
			const unsigned char *data, size_t size)
{
	struct pool *p = b->pool;
	unsigned char id[REPO_ID_SIZE];
	struct repo_blob *blob;
	int isnew, submit = 0;

	repo_chunk_id(&b->r->key, data, size, id);
	pthread_mutex_lock(&p->mu);
	blob = repo_index_add(&b->r->index, id, &isnew);
	if (!blob->live) {
		/* new, or left unsent by an attempt that failed: send it */
		submit = isnew || blob->pack == UINT32_MAX;
		blob->live = 1;
		if (submit)
			b->stats->chunks_new++;
		else
			b->stats->stored += blob->length;
	}
	pthread_mutex_unlock(&p->mu);
	b->stats->chunks++;
	if (e->n_chunks == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		e->chunks = xrealloc(e->chunks, *cap * REPO_ID_SIZE);
	}
	memcpy(e->chunks[e->n_chunks++], id, REPO_ID_SIZE);
	return submit ? pool_submit(p, id, data, size) : 0;
}

/* Reads a regular file, chunk by chunk; -EAGAIN when it changed meanwhile. */
static int backup_file(struct backup *b, int dirfd, const char *name, const struct stat *st,
		       struct repo_entry *e)
{
	_cleanup_close_ int fd = -1;
	size_t start = 0, fill = 0, cap = 0;
	uint64_t total = 0;
	struct stat st2;
	int eof = 0, r;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? -EAGAIN : -errno;
	if (fstat(fd, &st2) < 0)
		return -errno;
	if (st2.st_ino != st->st_ino || !S_ISREG(st2.st_mode))
		return -EAGAIN;
	for (;;) {
		if (fill - start < CHUNK_MAX && !eof) {
			memmove(b->window, b->window + start, fill - start);
			fill -= start;
			start = 0;
			while (fill < WINDOW && !eof) {
				ssize_t n = read(fd, b->window + fill, WINDOW - fill);
				if (n < 0) {
					if (errno == EINTR)
						continue;
					return -errno;
				}
				if (n == 0)
					eof = 1;
				fill += (size_t)n;
				total += (uint64_t)n;
			}
		}
		if (fill == start)
			break;
		{
			size_t cut = chunker_next(b->window + start, fill - start);
			r = backup_chunk(b, e, &cap, b->window + start, cut);
			if (r < 0)
				return r;
			start += cut;
		}
	}
	if (fstat(fd, &st2) < 0)
		return -errno;
	if (total != (uint64_t)st->st_size || st2.st_size != st->st_size ||
	    st2.st_mtim.tv_sec != st->st_mtim.tv_sec || st2.st_mtim.tv_nsec != st->st_mtim.tv_nsec)
		return -EAGAIN;
	return 0;
}

/* Walk step: one tree line per entry, file content into chunks. */
static int backup_visit(int dirfd, const char *name, const char *path, const struct stat *st,
			void *userdata)
{
	struct backup *b = userdata;
	struct repo_entry e = {
	    .mode = st->st_mode & 07777,
	    .uid = st->st_uid,
	    .gid = st->st_gid,
	    .mtime = st->st_mtim,
	    .path = (char *)path,
	};
	char target[PATH_MAX + 1];
	int r = 0;

	if (S_ISDIR(st->st_mode))
		e.type = 'd';
	else if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (n < 0)
			return errno == ENOENT ? -EAGAIN : -errno;
		target[n] = '\0';
		e.type = 'l';
		e.target = target;
	} else if (S_ISREG(st->st_mode)) {
		e.type = 'f';
		e.size = (uint64_t)st->st_size;
		r = backup_file(b, dirfd, name, st, &e);
		if (r < 0) {
			free(e.chunks);
			return r;
		}
		b->stats->bytes += e.size;
	} else {
		log_info("Skipping %s: a %s is not backed up", path,
			 S_ISSOCK(st->st_mode)	 ? "socket"
			 : S_ISFIFO(st->st_mode) ? "fifo"
						 : "device");
		b->stats->skipped++;
		return 0;
	}
	b->stats->files++;
	repo_tree_write_entry(b->tree, &e);
	free(e.chunks);
	return 0;
}

/* The tree's first line. */
static char *tree_header(struct repo *r, const char *id, const char *tree_digest,
			 const struct repo_stats *st)
{
	cJSON *root = cJSON_CreateObject(), *paths = cJSON_AddArrayToObject(root, "paths");
	char host[256], created[FORMAT_UTC_MAX];
	char *text;

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	format_utc(created, sizeof(created), time(NULL));
	cJSON_AddNumberToObject(root, "format", 2);
	cJSON_AddStringToObject(root, "generation", id);
	cJSON_AddStringToObject(root, "created", created);
	cJSON_AddNumberToObject(root, "files", (double)st->files);
	cJSON_AddNumberToObject(root, "bytes", (double)st->bytes);
	cJSON_AddNumberToObject(root, "stored", (double)st->stored);
	cJSON_AddStringToObject(root, "tree_digest", tree_digest);
	cJSON_AddStringToObject(root, "host", host);
	cJSON_AddStringToObject(root, "workspace", r->c->workspace_name);
	cJSON_AddStringToObject(root, "agentbox_version", AGENTBOX_VERSION);
	cJSON_AddBoolToObject(root, "encrypted", r->key.encrypted);
	for (char **p = r->c->state_paths; p && *p; p++)
		cJSON_AddItemToArray(paths, cJSON_CreateString(*p));
	text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* Sends the index of the packs numbered from first_pack on, as index/<id>. */
static int put_index(struct repo *r, const char *id, size_t first_pack, uint64_t *uploaded)
{
	_cleanup_free_ unsigned char *keep = xcalloc(r->index.n_packs + 1, 1);
	_cleanup_free_ char *text = NULL, *ad = xasprintf("index:%s", id), *key = NULL;
	_cleanup_free_ void *z = NULL, *obj = NULL;
	size_t size = 0, zn, n = 0;
	int k;

	for (size_t i = first_pack; i < r->index.n_packs; i++)
		keep[i] = 1;
	repo_index_format(&r->index, keep, &text, &size);
	z = xmalloc(ZSTD_compressBound(size));
	zn = ZSTD_compress(z, ZSTD_compressBound(size), text, size, 3);
	if (ZSTD_isError(zn))
		return -EIO;
	repo_seal(&r->key, ad, z, zn, &obj, &n);
	key = repo_object_key(r, "index/", id);
	k = s3_put(r->s, key, obj, n, "application/octet-stream");
	if (k < 0)
		return log_error_errno(k, "%s", s3_last_error(r->s));
	*uploaded += n;
	return 0;
}

int repo_backup(struct repo *r, const char *id, const char *tree_digest,
		struct repo_stats *ret, char **ret_error_path)
{
	_cleanup_free_ char *entries = NULL, *header = NULL, *text = NULL, *name = NULL,
			    *key = NULL;
	_cleanup_free_ void *obj = NULL;
	_cleanup_(state_exclude_freep) struct state_exclude *exclude =
	    state_exclude_new(r->c->state_exclude, r->c->state_exclude_defaults);
	struct repo_stats st = {0};
	struct pool p;
	struct backup b = {.r = r, .pool = &p, .stats = &st};
	size_t entries_size = 0, n = 0, first_pack;
	int k, k2;

	k = repo_load_index(r, 1);
	if (k < 0)
		return k;
	for (size_t i = 0; i < r->index.n_slots; i++)
		r->index.slots[i].live = 0;
	/* packs sent by an earlier attempt of this backup count as new too */
	first_pack = r->loaded_packs;
	b.tree = open_memstream(&entries, &entries_size);
	if (!b.tree)
		return -ENOMEM;
	b.window = xmalloc(WINDOW);
	k = pool_start(&p, r);
	if (k >= 0)
		k = tarball_walk(r->c->state_paths, exclude, backup_visit, &b, ret_error_path);
	k2 = pool_finish(&p, k);
	fclose(b.tree);
	free(b.window);
	if (k >= 0)
		k = k2;
	st.uploaded = p.uploaded;
	if (k < 0)
		return k;
	/* every chunk the tree names now has a pack */
	for (size_t i = 0; i < r->index.n_slots; i++) {
		struct repo_blob *bl = &r->index.slots[i];
		if (bl->live && bl->pack == UINT32_MAX)
			return log_error_errno(EIO, "A chunk of generation %s was not stored", id);
		if (bl->live && bl->pack >= first_pack)
			st.stored += bl->length;
	}
	if (r->index.n_packs > first_pack) {
		k = put_index(r, id, first_pack, &st.uploaded);
		if (k < 0)
			return k;
	}
	header = tree_header(r, id, tree_digest, &st);
	text = xasprintf("%s\n%s", header, entries ? entries : "");
	k = repo_tree_seal(&r->key, id, text, strlen(text), &obj, &n);
	if (k < 0)
		return k;
	name = xasprintf("%s.tree", id);
	key = repo_object_key(r, "generations/", name);
	k = s3_put(r->s, key, obj, n, "application/octet-stream");
	if (k < 0)
		return log_error_errno(k, "%s", s3_last_error(r->s));
	st.uploaded += n;
	*ret = st;
	return 0;
}
