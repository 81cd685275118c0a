/* A v2 restore (and verify); see repo.h.
 *
 * 1. The tree is read, authenticated and checked whole before anything is
 *    written: every path absolute, without "."/".." or empty components,
 *    inside the allowed state paths; every chunk in the index; each file's
 *    chunks adding up to its size; all sizes within the free disk space.
 * 2. Entries are created in tree order (parents first) under staging, each
 *    with one openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) lookup: the
 *    kernel refuses any path that leaves staging or passes a symlink, and
 *    O_EXCL refuses a second entry of the same name. Where openat2() is
 *    not available (ENOSYS), a walk of O_NOFOLLOW openat()s gives the same.
 * 3. Packs are downloaded by worker threads, each blob authenticated,
 *    decompressed and its id checked, then written with pwrite to every
 *    place that uses it.
 * 4. Owners, modes (never set-id, never sticky on a file) and mtimes are
 *    set, deepest entries first so that directory mtimes hold. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zstd.h>

#include "chunker.h"
#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "repo-pack.h"
#include "repo.h"
#include "s3.h"
#include "tarball.h"

#define WORKERS_MAX 8

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

/* One place a blob goes: file entry e at offset. */
struct place {
	const struct repo_blob *blob;
	size_t entry;
	uint64_t offset;
};

struct restore {
	struct repo *r;
	struct repo_tree tree;
	int root; /* staging; -1: verify only */
	struct place *places;
	size_t n_places;
	size_t *runs; /* start of each pack's run in places, n_runs + 1 */
	size_t n_runs;
	pthread_mutex_t mu;
	size_t next_run;
	int error;
	char *error_msg;
	uint64_t downloaded;
};

/* Where openat2() is missing (kernels before 5.6) or unknown to a seccomp
 * profile (Docker's, in a container; such profiles answer ENOSYS), the same
 * lookup one component at a time from dirfd: every component opened with
 * O_NOFOLLOW relative to the previous one, ".." refused, so the walk can
 * neither leave dirfd nor pass a symlink — the guarantees of
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, for paths the tree check has
 * already made clean. */
static int openat_walk_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	_cleanup_free_ char *copy = xstrdup(path);
	char *p = copy, *slash;
	int cur = dirfd, fd;
	struct stat st;

	while ((slash = strchr(p, '/'))) {
		*slash = '\0';
		if (streq(p, ".."))
			fd = -EXDEV;
		else if (!*p || streq(p, "."))
			fd = -EAGAIN; /* nothing to step into */
		else {
			fd = openat(cur, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			/* a symlink opened O_NOFOLLOW|O_DIRECTORY: ENOTDIR */
			fd = fd < 0 ? (errno == ENOTDIR ? -ELOOP : -errno) : fd;
		}
		if (fd == -EAGAIN) {
			p = slash + 1;
			continue;
		}
		if (cur != dirfd)
			close(cur);
		if (fd < 0)
			return fd;
		cur = fd;
		p = slash + 1;
	}
	if (streq(p, ".."))
		fd = -EXDEV;
	else if (!*p || streq(p, "."))
		fd = openat(cur, ".", flags, mode);
	else
		fd = openat(cur, p, flags | O_NOFOLLOW, mode);
	fd = fd < 0 ? -errno : fd;
	/* O_PATH|O_NOFOLLOW opens a symlink itself: refuse it as openat2 does */
	if (fd >= 0 && (flags & O_PATH) && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
		close(fd);
		fd = -ELOOP;
	}
	if (cur != dirfd)
		close(cur);
	return fd;
}

static int openat2_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	static int no_openat2;
	struct open_how how = {
	    .flags = (uint64_t)flags,
	    .mode = mode,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	if (__atomic_load_n(&no_openat2, __ATOMIC_RELAXED))
		return openat_walk_beneath(dirfd, path, flags, mode);
	fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
		log_debug("openat2() is not available here: restoring with O_NOFOLLOW lookups");
		return openat_walk_beneath(dirfd, path, flags, mode);
	}
	return fd < 0 ? -errno : (int)fd;
}

static int path_allowed(char *const *allowed, const char *abs)
{
	for (char *const *p = allowed; p && *p; p++) {
		size_t l = strlen(*p);
		while (l > 1 && (*p)[l - 1] == '/')
			l--;
		if (strncmp(abs, *p, l) == 0 && (abs[l] == '\0' || abs[l] == '/'))
			return 1;
	}
	return 0;
}

/* An absolute path without empty, "." or ".." components or a final '/'. */
static int path_clean(const char *p)
{
	if (p[0] != '/' || p[1] == '\0')
		return 0;
	for (const char *s = p; *s;) {
		const char *c = s + 1, *e = strchrnul(c, '/');
		size_t n = (size_t)(e - c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		if (n > 255)
			return 0;
		s = e;
	}
	return 1;
}

static void set_error(struct restore *x, int r, char *msg)
{
	pthread_mutex_lock(&x->mu);
	if (x->error >= 0) {
		x->error = r;
		x->error_msg = msg;
		msg = NULL;
	}
	pthread_mutex_unlock(&x->mu);
	free(msg);
}

/* Step 1: the whole tree is checked before anything is written. */
static int check_tree(struct restore *x, const char *id, char *const *allowed, int write,
		      char **ret_error)
{
	_cleanup_(cJSON_Deletep) cJSON *h = cJSON_Parse(x->tree.header);
	const cJSON *g = h ? cJSON_GetObjectItemCaseSensitive(h, "generation") : NULL;
	const cJSON *f = h ? cJSON_GetObjectItemCaseSensitive(h, "format") : NULL;
	uint64_t need = 0, free_bytes = UINT64_MAX;
	struct statvfs sv;

	if (!cJSON_IsString(g) || !streq(g->valuestring, id) || !cJSON_IsNumber(f) ||
	    f->valuedouble != 2) {
		*ret_error = xasprintf("the tree is not one of generation %s", id);
		return -EBADMSG;
	}
	if (write && fstatvfs(x->root, &sv) == 0)
		free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	for (size_t i = 0; i < x->tree.n; i++) {
		const struct repo_entry *e = &x->tree.v[i];
		uint64_t sum = 0;

		if (!path_clean(e->path)) {
			*ret_error = xasprintf("entry '%s' is not a clean absolute path", e->path);
			return -EPERM;
		}
		if (!path_allowed(allowed, e->path)) {
			*ret_error = xasprintf("entry '%s' is outside the state paths", e->path);
			return -EPERM;
		}
		if (e->type == 'l' && (!*e->target || strlen(e->target) >= PATH_MAX)) {
			*ret_error = xasprintf("symlink '%s' has no valid target", e->path);
			return -EBADMSG;
		}
		for (size_t c = 0; c < e->n_chunks; c++) {
			const struct repo_blob *b = repo_index_find(&x->r->index, e->chunks[c]);
			if (!b || b->pack == UINT32_MAX) {
				*ret_error = xasprintf("a chunk of '%s' is in no pack", e->path);
				return -EBADMSG;
			}
			sum += b->raw_length;
		}
		if (e->type == 'f' && sum != e->size) {
			*ret_error = xasprintf("the chunks of '%s' hold %" PRIu64 " bytes, the tree "
					       "says %" PRIu64,
					       e->path, sum, e->size);
			return -EBADMSG;
		}
		need += e->size;
		if (need > free_bytes) {
			/* worded as v1's refusal (lib/tarball.c): the operator greps for it */
			*ret_error = xasprintf("entry '%s': the generation needs %" PRIu64 " bytes, "
					       "more than the disk has free: no space left on "
					       "device",
					       e->path, need);
			return -ENOSPC;
		}
	}
	return 0;
}

/* The parent directory of rel (a path relative to root), opened beneath it. */
static int open_parent(int root, const char *rel, const char **ret_base)
{
	const char *slash = strrchr(rel, '/');
	_cleanup_free_ char *dir = NULL;

	if (!slash) {
		*ret_base = rel;
		return openat2_beneath(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
	}
	*ret_base = slash + 1;
	dir = xasprintf("%.*s", (int)(slash - rel), rel);
	return openat2_beneath(root, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
}

/* Step 2: creates the entries (files empty, of their size). */
static int create_entries(struct restore *x, char *const *allowed, char **ret_error)
{
	/* the state paths' parents, which the tree does not hold */
	for (char *const *p = allowed; p && *p; p++) {
		_cleanup_free_ char *t = xstrdup(*p);
		char *slash = strrchr(t, '/');
		if (slash && slash != t) {
			*slash = '\0';
			for (char *s = t + 1;; s++) {
				if (*s == '/' || *s == '\0') {
					char c = *s;
					*s = '\0';
					if (mkdirat(x->root, t + 1, 0755) < 0 && errno != EEXIST)
						return -errno;
					*s = c;
					if (!c)
						break;
				}
			}
		}
	}
	for (size_t i = 0; i < x->tree.n; i++) {
		const struct repo_entry *e = &x->tree.v[i];
		const char *rel = e->path + 1, *base;
		_cleanup_close_ int fd = -1;
		int k = 0;

		if (e->type == 'f') {
			fd = openat2_beneath(x->root, rel,
					     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
					     0600);
			if (fd >= 0 && e->size > 0 && ftruncate(fd, (off_t)e->size) < 0)
				k = -errno;
			if (fd < 0)
				k = fd;
		} else {
			fd = open_parent(x->root, rel, &base);
			if (fd < 0)
				k = fd;
			else if (e->type == 'd' && mkdirat(fd, base, 0700) < 0)
				k = -errno;
			else if (e->type == 'l' && symlinkat(e->target, fd, base) < 0)
				k = -errno;
		}
		if (k < 0) {
			*ret_error = xasprintf("entry '%s' cannot be created (%s)", e->path,
					       k == -EXDEV || k == -ELOOP ? "it goes through a symlink"
					       : k == -EEXIST	      ? "a second entry of that name"
					       : k == -ENOENT	      ? "its directory is not in the tree"
								      : strerror(-k));
			return k == -ENOSPC || k == -EIO ? k : -EPERM;
		}
	}
	return 0;
}

static int place_cmp(const void *a, const void *b)
{
	const struct place *x = a, *y = b;

	if (x->blob->pack != y->blob->pack)
		return x->blob->pack < y->blob->pack ? -1 : 1;
	if (x->blob->offset != y->blob->offset)
		return x->blob->offset < y->blob->offset ? -1 : 1;
	return 0;
}

/* Where every blob goes, grouped by pack. */
static void plan(struct restore *x)
{
	size_t n = 0;

	for (size_t i = 0; i < x->tree.n; i++)
		n += x->tree.v[i].n_chunks;
	x->places = xcalloc(n + 1, sizeof(*x->places));
	for (size_t i = 0; i < x->tree.n; i++) {
		const struct repo_entry *e = &x->tree.v[i];
		uint64_t off = 0;
		for (size_t c = 0; c < e->n_chunks; c++) {
			const struct repo_blob *b = repo_index_find(&x->r->index, e->chunks[c]);
			x->places[x->n_places++] = (struct place){b, i, off};
			off += b->raw_length;
		}
	}
	qsort(x->places, x->n_places, sizeof(*x->places), place_cmp);
	x->runs = xcalloc(x->n_places + 2, sizeof(size_t));
	for (size_t i = 0; i < x->n_places; i++)
		if (i == 0 || x->places[i].blob->pack != x->places[i - 1].blob->pack)
			x->runs[x->n_runs++] = i;
	x->runs[x->n_runs] = x->n_places;
}

static int pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t k = pwrite(fd, p, n, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Writes buf at off, leaving runs of zeros out: the file was made of its
 * size with ftruncate, so they stay holes (sparse files stay sparse). */
static int pwrite_sparse(int fd, const unsigned char *buf, size_t n, uint64_t off)
{
	const size_t block = 64 * 1024;

	for (size_t at = 0; at < n;) {
		size_t len = MIN(block, n - at), end = at;
		int k;

		if (all_zero(buf + at, len)) {
			at += len;
			continue;
		}
		/* extend over the following non-zero blocks: one write for them */
		while (end < n && !all_zero(buf + end, MIN(block, n - end)))
			end += MIN(block, n - end);
		k = pwrite_full(fd, buf + at, end - at, off + at);
		if (k < 0)
			return k;
		at = end;
	}
	return 0;
}

/* One pack: downloaded, each blob opened and written where it goes. */
static int restore_run(struct restore *x, struct s3_client *s, ZSTD_DCtx *dc, size_t run,
		       unsigned char *out, unsigned char *tmp)
{
	size_t from = x->runs[run], to = x->runs[run + 1];
	uint32_t pk = x->places[from].blob->pack;
	_cleanup_free_ char *key = repo_object_key(x->r, "packs/", x->r->index.packs[pk]);
	_cleanup_free_ char *data = NULL;
	size_t size = 0;
	int k;

	k = s3_get_buffer(s, key, REPO_PACK_MAX, &data, &size);
	if (k < 0) {
		set_error(x, k, xstrdup(s3_last_error(s)));
		return k;
	}
	pthread_mutex_lock(&x->mu);
	x->downloaded += size;
	pthread_mutex_unlock(&x->mu);
	for (size_t i = from; i < to; i++) {
		const struct place *pl = &x->places[i];
		const struct repo_blob *b = pl->blob;

		if (i == from || b != x->places[i - 1].blob) {
			if (b->offset > size || b->length > size - b->offset ||
			    b->length > CHUNK_MAX + CHUNK_MAX / 8 + 1024) {
				set_error(x, -EBADMSG,
					  xasprintf("pack %s is shorter than its index says",
						    x->r->index.packs[pk]));
				return -EBADMSG;
			}
			memcpy(tmp, data + b->offset, b->length);
			k = repo_blob_decode(&x->r->key, dc, b, tmp, out);
			if (k < 0) {
				set_error(x, k,
					  xasprintf("a chunk in pack %s %s", x->r->index.packs[pk],
						    repo_open_strerror(k)));
				return k;
			}
		}
		if (x->root >= 0) {
			_cleanup_close_ int fd = openat2_beneath(
			    x->root, x->tree.v[pl->entry].path + 1, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0);
			if (fd < 0 || (k = pwrite_sparse(fd, out, b->raw_length, pl->offset)) < 0) {
				k = fd < 0 ? fd : k;
				set_error(x, k,
					  xasprintf("cannot write '%s': %s", x->tree.v[pl->entry].path,
						    strerror(-k)));
				return k;
			}
		}
	}
	return 0;
}

struct restore_worker {
	struct restore *x;
	pthread_t thread;
	struct s3_client *s;
};

static void *restore_worker_main(void *userdata)
{
	struct restore_worker *w = userdata;
	struct restore *x = w->x;
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	unsigned char *out = xmalloc(CHUNK_MAX), *tmp = xmalloc(CHUNK_MAX + CHUNK_MAX / 8 + 1024);

	for (;;) {
		size_t run;

		pthread_mutex_lock(&x->mu);
		run = x->error < 0 ? x->n_runs : x->next_run++;
		pthread_mutex_unlock(&x->mu);
		if (run >= x->n_runs)
			break;
		if (restore_run(x, w->s, dc, run, out, tmp) < 0)
			break;
	}
	ZSTD_freeDCtx(dc);
	free(out);
	free(tmp);
	return NULL;
}

/* Step 3: all packs, in parallel. */
static int fetch_all(struct restore *x)
{
	struct restore_worker w[WORKERS_MAX] = {0};
	unsigned n = MIN(MAX(x->r->workers + 1, 1u), WORKERS_MAX), started = 0;
	int k = 0;

	for (unsigned i = 0; i < n && (size_t)i < MAX(x->n_runs, 1u); i++) {
		w[i].x = x;
		k = x->r->new_client(x->r->c, &w[i].s);
		if (k < 0)
			break;
		k = -pthread_create(&w[i].thread, NULL, restore_worker_main, &w[i]);
		if (k < 0) {
			s3_client_free(w[i].s);
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(w[i].thread, NULL);
		s3_client_free(w[i].s);
	}
	if (k < 0)
		set_error(x, k, xstrdup("cannot start the download workers"));
	return x->error;
}

/* Step 4: owners, modes, mtimes; deepest first. */
static int finish_entries(struct restore *x, const struct tarball_owner *owner, char **ret_error)
{
	for (size_t i = x->tree.n; i-- > 0;) {
		const struct repo_entry *e = &x->tree.v[i];
		const char *rel = e->path + 1, *base;
		struct timespec ts[2] = {e->mtime, e->mtime};
		mode_t mode = e->mode & ~(mode_t)(S_ISUID | S_ISGID);
		uid_t uid = e->uid;
		gid_t gid = e->gid;
		_cleanup_close_ int fd = -1;
		int k = 0;

		if (e->type != 'd')
			mode &= ~(mode_t)S_ISVTX;
		if (owner) {
			int member = gid == owner->gid;
			for (size_t g = 0; g < owner->n_groups && !member; g++)
				member = owner->groups[g] == gid;
			if (uid != owner->uid || !member) {
				uid = owner->uid;
				gid = owner->gid;
			}
		}
		if (e->type == 'l') {
			fd = open_parent(x->root, rel, &base);
			if (fd < 0)
				k = fd;
			else if (owner && fchownat(fd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
				k = -errno;
			else if (utimensat(fd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
				k = -errno;
		} else {
			fd = openat2_beneath(x->root, rel,
					     O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
						 (e->type == 'd' ? O_DIRECTORY : 0),
					     0);
			if (fd < 0)
				k = fd;
			else if (owner && fchown(fd, uid, gid) < 0)
				k = -errno;
			else if (fchmod(fd, mode) < 0 || futimens(fd, ts) < 0)
				k = -errno;
		}
		if (k < 0) {
			*ret_error = xasprintf("cannot set owner, mode or time of '%s': %s", e->path,
					       strerror(-k));
			return k;
		}
	}
	return 0;
}

int repo_restore(struct repo *r, const char *id, const char *staging, char *const *allowed,
		 const struct tarball_owner *owner, struct repo_stats *ret, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	struct restore x = {.r = r, .root = -1};
	struct repo_stats st = {0};
	int k;

	pthread_mutex_init(&x.mu, NULL);
	k = repo_read_tree(r, id, &x.tree, &text);
	if (k < 0) {
		*ret_error = xasprintf("the tree of generation %s cannot be read", id);
		goto out;
	}
	k = repo_load_index(r, 0);
	if (k < 0) {
		*ret_error = xstrdup("the index cannot be read");
		goto out;
	}
	if (staging) {
		x.root = open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (x.root < 0) {
			k = -errno;
			*ret_error = xasprintf("cannot open %s: %s", staging, strerror(errno));
			goto out;
		}
	}
	k = check_tree(&x, id, allowed, staging != NULL, ret_error);
	if (k < 0)
		goto out;
	if (staging) {
		k = create_entries(&x, allowed, ret_error);
		if (k < 0)
			goto out;
	}
	plan(&x);
	k = fetch_all(&x);
	if (k < 0) {
		*ret_error = TAKE_PTR(x.error_msg);
		goto out;
	}
	if (staging) {
		k = finish_entries(&x, owner, ret_error);
		if (k < 0)
			goto out;
	}
	for (size_t i = 0; i < x.tree.n; i++) {
		st.files++;
		st.bytes += x.tree.v[i].size;
	}
	st.chunks = x.n_places;
	for (size_t i = 0; i < x.n_places; i++)
		if (i == 0 || x.places[i].blob != x.places[i - 1].blob)
			st.stored += x.places[i].blob->length;
	st.uploaded = x.downloaded;
	*ret = st;
	k = 0;
out:
	if (x.root >= 0)
		close(x.root);
	free(x.error_msg);
	free(x.places);
	free(x.runs);
	repo_tree_done(&x.tree);
	pthread_mutex_destroy(&x.mu);
	return k;
}
