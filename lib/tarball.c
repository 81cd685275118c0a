/* The state archive; see tarball.h.
 *
 * The tree is walked by hand (sorted, not following symlinks) so that the
 * cheap digest and the archive see the same entries in the same order, and
 * so that file data is read by us: libarchive 3.6.2 would pad or cut a file
 * that changes size while read, and we must notice that instead. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "log.h"
#include "macro.h"
#include "s3.h"
#include "state-exclude.h"
#include "tarball.h"
#include "zstd-stream.h"

/* Files up to this size are read whole and re-read until they hold still. */
#define SMALL_FILE_MAX (4 * 1024 * 1024)
#define READ_CHUNK (256 * 1024)
#define STABLE_TRIES 3
/* zstd compression threads: ~30 MiB of buffers each at level 3 (libzstd's
 * jobs of 8 MiB, in and out); smaller jobs measured slower than none. */
#define ZSTD_WORKERS 2

struct walker;
typedef int (*visit_fn)(struct walker *w, int dirfd, const char *name, const char *path,
			const struct stat *st);

struct walker {
	struct state_exclude *exclude;
	visit_fn visit;
	struct sha256_ctx *digest;
	struct tarball_stats *stats;

	/* tarball_create */
	struct archive *a;
	tarball_sink_fn sink;
	void *userdata;
	int sink_error;
	struct zstd_encoder *enc;
	char *error_path;
	unsigned char *buf;
	uid_t cached_uid;
	gid_t cached_gid;
	char *cached_uname, *cached_gname;

	/* tarball_walk */
	tarball_walk_fn walk_fn;
	void *walk_userdata;
};

/* qsort order of directory entries: bytewise. */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds one entry to the tree digest. Besides size and mtime, which a
 * writer can put back (touch -r, utimensat), the ctime and the inode,
 * which it cannot (as restic compares them): a same-size rewrite with the
 * old mtime restored must not make a backup "unchanged". */
static void digest_entry(struct walker *w, int dirfd, const char *name, const char *path,
			 const struct stat *st)
{
	char line[256], target[PATH_MAX];
	ssize_t n = 0;
	int l;

	l = snprintf(line, sizeof(line), "%o %u %u %" PRIu64 " %lld.%09ld %lld.%09ld %" PRIu64 " ",
		     (unsigned)st->st_mode, (unsigned)st->st_uid, (unsigned)st->st_gid,
		     S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0,
		     (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		     (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, (uint64_t)st->st_ino);
	sha256_update(w->digest, line, (size_t)l);
	sha256_update(w->digest, path, strlen(path) + 1);
	if (S_ISLNK(st->st_mode)) {
		n = readlinkat(dirfd, name, target, sizeof(target));
		if (n > 0)
			sha256_update(w->digest, target, (size_t)n);
	}
	sha256_update(w->digest, "\n", 1);
}

/* Visits the entries of the directory dfd (path), sorted, depth first. */
static int walk_dir(struct walker *w, int dfd, const char *path)
{
	_cleanup_free_ char **names = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	struct dirent *de;
	int fd2, r = 0;

	fd2 = dup(dfd);
	if (fd2 < 0)
		return -errno;
	d = fdopendir(fd2);
	if (!d) {
		close(fd2);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(char *));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(char *), name_cmp);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *child = NULL;
		struct stat st;

		if (r < 0)
			goto next;
		child = xasprintf("%s/%s", streq(path, "/") ? "" : path, names[i]);
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT) /* removed since readdir: fine */
				r = -errno;
			goto next;
		}
		r = state_exclude_match(w->exclude, dfd, names[i], child, &st, &w->error_path);
		if (r != 0) { /* excluded (r = 1), or its ignore file is bad */
			r = MIN(r, 0);
			goto next;
		}
		r = w->visit(w, dfd, names[i], child, &st);
		if (r >= 0 && S_ISDIR(st.st_mode)) {
			_cleanup_close_ int cfd =
			    openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd < 0) {
				if (errno != ENOENT)
					r = -errno;
			} else
				r = walk_dir(w, cfd, child);
		}
		if (r < 0 && !w->error_path)
			w->error_path = xstrdup(child);
	next:
		free(names[i]);
	}
	return r;
}

/* Visits each state path and, for directories, all below it. */
static int walk_paths(struct walker *w, char *const *paths)
{
	for (char *const *p = paths; p && *p; p++) {
		struct stat st;
		int r;

		if (lstat(*p, &st) < 0) {
			if (errno == ENOENT) {
				log_debug("State path %s does not exist, skipping", *p);
				continue;
			}
			w->error_path = xstrdup(*p);
			return -errno;
		}
		if (state_exclude_match(w->exclude, AT_FDCWD, *p, *p, &st, NULL) > 0)
			continue;
		r = w->visit(w, AT_FDCWD, *p, *p, &st);
		if (r >= 0 && S_ISDIR(st.st_mode)) {
			_cleanup_close_ int fd =
			    open(*p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				r = -errno;
			else
				r = walk_dir(w, fd, *p);
		}
		if (r < 0) {
			if (!w->error_path)
				w->error_path = xstrdup(*p);
			return r;
		}
	}
	return 0;
}

/* Walker step of tarball_tree_digest(): digest and counts only. */
static int visit_digest(struct walker *w, int dirfd, const char *name, const char *path,
			const struct stat *st)
{
	digest_entry(w, dirfd, name, path, st);
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISLNK(st->st_mode)) {
		w->stats->files++;
		if (S_ISREG(st->st_mode))
			w->stats->bytes += (uint64_t)st->st_size;
	} else
		w->stats->skipped++;
	return 0;
}

int tarball_tree_digest(char *const *paths, struct state_exclude *exclude,
			struct tarball_stats *ret, char **ret_error_path)
{
	struct tarball_stats stats = {0};
	struct walker w = {.exclude = exclude, .visit = visit_digest, .stats = &stats};
	int r;

	w.digest = sha256_new();
	r = walk_paths(&w, paths);
	sha256_finish_hex(w.digest, stats.tree_digest);
	if (r < 0) {
		if (ret_error_path)
			*ret_error_path = TAKE_PTR(w.error_path);
		free(w.error_path);
		return r;
	}
	free(w.error_path);
	*ret = stats;
	return 0;
}

/* Walker step of tarball_walk(): hands the entry to the caller. */
static int visit_public(struct walker *w, int dirfd, const char *name, const char *path,
			const struct stat *st)
{
	return w->walk_fn(dirfd, name, path, st, w->walk_userdata);
}

int tarball_walk(char *const *paths, struct state_exclude *exclude, tarball_walk_fn fn,
		 void *userdata, char **ret_error_path)
{
	struct walker w = {.exclude = exclude, .visit = visit_public, .walk_fn = fn,
			   .walk_userdata = userdata};
	int r;

	r = walk_paths(&w, paths);
	if (r < 0 && ret_error_path)
		*ret_error_path = TAKE_PTR(w.error_path);
	free(w.error_path);
	return r;
}

/* ---- create ---- */

static la_ssize_t on_archive_write(struct archive *a, void *userdata, const void *buf, size_t n)
{
	struct walker *w = userdata;
	int r;

	(void)a;
	if (w->sink_error)
		return -1;
	r = zstd_encoder_feed(w->enc, buf, n, w->sink, w->userdata);
	if (r < 0) {
		/* libarchive 3.6.2 drops our code: keep it here. */
		w->sink_error = r;
		return -1;
	}
	return (la_ssize_t)n;
}

/* The sink's error if it failed, else logs libarchive's and returns -EIO. */
static int archive_fail(struct walker *w, const char *what)
{
	if (w->sink_error)
		return w->sink_error;
	log_error("Archive: %s: %s", what, strempty(archive_error_string(w->a)));
	return -EIO;
}

/* Stores user and group names (looked up once per id) besides the ids. */
static void set_owner_names(struct walker *w, struct archive_entry *e, const struct stat *st)
{
	if (!w->cached_uname || w->cached_uid != st->st_uid) {
		struct passwd *pw = getpwuid(st->st_uid);
		free(w->cached_uname);
		w->cached_uname = xstrdup(pw ? pw->pw_name : "");
		w->cached_uid = st->st_uid;
	}
	if (!w->cached_gname || w->cached_gid != st->st_gid) {
		struct group *gr = getgrgid(st->st_gid);
		free(w->cached_gname);
		w->cached_gname = xstrdup(gr ? gr->gr_name : "");
		w->cached_gid = st->st_gid;
	}
	if (*w->cached_uname)
		archive_entry_copy_uname(e, w->cached_uname);
	if (*w->cached_gname)
		archive_entry_copy_gname(e, w->cached_gname);
}

/* Same inode, size and mtime: the file did not change between the two stats. */
static int same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reads up to n bytes, short only at end of file; or -errno. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = read(fd, (char *)buf + done, n - done);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		done += (size_t)k;
	}
	return (ssize_t)done;
}

/* Writes an entry header; 0 or a negative code. */
static int write_header(struct walker *w, struct archive_entry *e)
{
	int r = archive_write_header(w->a, e);

	if (r < ARCHIVE_WARN)
		return archive_fail(w, "cannot write header");
	return 0;
}

/* Writes entry data; 0 or a negative code. */
static int write_data(struct walker *w, const void *buf, size_t n)
{
	la_ssize_t k = archive_write_data(w->a, buf, n);

	if (k < 0 || (size_t)k != n)
		return archive_fail(w, "cannot write data");
	return 0;
}

static int add_large_file(struct walker *w, int fd, struct archive_entry *e, const char *path);

/* A small file: read whole, until two stats around the read agree. */
static int add_small_file(struct walker *w, int fd, struct archive_entry *e, const char *path)
{
	for (int attempt = 0; attempt < STABLE_TRIES; attempt++) {
		struct stat before, after;
		ssize_t n;

		if (fstat(fd, &before) < 0)
			return -errno;
		if (before.st_size > SMALL_FILE_MAX)
			return add_large_file(w, fd, e, path);
		n = pread(fd, w->buf, SMALL_FILE_MAX, 0);
		if (n < 0)
			return -errno;
		if (fstat(fd, &after) < 0)
			return -errno;
		if (!same_file_state(&before, &after) || n != before.st_size)
			continue;
		archive_entry_copy_stat(e, &after);
		set_owner_names(w, e, &after);
		if (write_header(w, e) < 0 || write_data(w, w->buf, (size_t)n) < 0)
			return w->sink_error ? w->sink_error : -EIO;
		w->stats->bytes += (uint64_t)n;
		return 0;
	}
	log_error("File %s kept changing while it was archived", path);
	return -EAGAIN;
}

/* A large file: streamed; any change while read fails the archive. */
static int add_large_file(struct walker *w, int fd, struct archive_entry *e, const char *path)
{
	struct stat before, after;
	uint64_t left;
	char extra;

	if (fstat(fd, &before) < 0)
		return -errno;
	archive_entry_copy_stat(e, &before);
	set_owner_names(w, e, &before);
	if (write_header(w, e) < 0)
		return w->sink_error ? w->sink_error : -EIO;
	for (left = (uint64_t)before.st_size; left > 0;) {
		ssize_t n = read_full(fd, w->buf, (size_t)MIN(left, (uint64_t)READ_CHUNK));
		if (n < 0)
			return (int)n;
		if (n == 0) {
			log_error("File %s shrank while it was archived", path);
			return -EAGAIN;
		}
		if (write_data(w, w->buf, (size_t)n) < 0)
			return w->sink_error ? w->sink_error : -EIO;
		left -= (uint64_t)n;
	}
	if (fstat(fd, &after) < 0)
		return -errno;
	if (!same_file_state(&before, &after) || read(fd, &extra, 1) > 0) {
		log_error("File %s changed while it was archived", path);
		return -EAGAIN;
	}
	w->stats->bytes += (uint64_t)before.st_size;
	return 0;
}

/* Walker step of tarball_create(): one entry into the archive. */
static int visit_archive(struct walker *w, int dirfd, const char *name, const char *path,
			 const struct stat *st)
{
	struct archive_entry *e;
	int r = 0;

	digest_entry(w, dirfd, name, path, st);
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode) && !S_ISLNK(st->st_mode)) {
		log_info("Skipping %s: a %s is not backed up", path,
			 S_ISSOCK(st->st_mode)	 ? "socket"
			 : S_ISFIFO(st->st_mode) ? "fifo"
						 : "device");
		w->stats->skipped++;
		return 0;
	}
	e = archive_entry_new();
	archive_entry_copy_pathname(e, path + 1);
	if (S_ISREG(st->st_mode)) {
		_cleanup_close_ int fd = -1;

		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NOATIME);
		if (fd < 0 && errno == EPERM)
			fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			r = errno == ENOENT ? 0 : -errno; /* removed since listed: fine */
			if (r < 0)
				log_error_errno(r, "Cannot open %s: %m", path);
			archive_entry_free(e);
			return r;
		}
		if (st->st_size <= SMALL_FILE_MAX)
			r = add_small_file(w, fd, e, path);
		else
			r = add_large_file(w, fd, e, path);
	} else {
		archive_entry_copy_stat(e, st);
		set_owner_names(w, e, st);
		if (S_ISLNK(st->st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
			if (n < 0) {
				r = -errno;
				archive_entry_free(e);
				return log_error_errno(r, "Cannot read symlink %s: %m", path);
			}
			target[n] = '\0';
			archive_entry_copy_symlink(e, target);
		}
		r = write_header(w, e);
	}
	archive_entry_free(e);
	if (r >= 0)
		w->stats->files++;
	return r;
}

int tarball_create(char *const *paths, struct state_exclude *exclude, int level,
		   tarball_sink_fn sink, void *userdata, struct tarball_stats *ret,
		   char **ret_error_path)
{
	struct tarball_stats stats = {0};
	struct walker w = {.exclude = exclude,
			   .visit = visit_archive,
			   .stats = &stats,
			   .sink = sink,
			   .userdata = userdata};
	int r, k;

	w.a = archive_write_new();
	w.buf = xmalloc(MAX(SMALL_FILE_MAX, READ_CHUNK));
	w.digest = sha256_new();
	archive_write_set_format_pax(w.a);
	/* zstd by libzstd itself rather than libarchive's filter: its worker
	 * threads compress while this one reads files and frames the tar, with
	 * ~40 MiB less memory than libarchive's "threads" option (measured). */
	r = zstd_encoder_new(level, ZSTD_WORKERS, &w.enc);
	if (r < 0) {
		log_error("Archive: zstd refuses level %d", level);
		goto out;
	}
	/* Writes of 64 KiB to the encoder, and no padding of the last one. */
	archive_write_set_bytes_per_block(w.a, 64 * 1024);
	archive_write_set_bytes_in_last_block(w.a, 1);
	if (archive_write_open2(w.a, &w, NULL, on_archive_write, NULL, NULL) != ARCHIVE_OK) {
		r = archive_fail(&w, "cannot open the stream");
		goto out;
	}
	r = walk_paths(&w, paths);
	/* close writes the tar's end; its own status is not enough */
	k = archive_write_close(w.a);
	if (r >= 0 && (k != ARCHIVE_OK || w.sink_error))
		r = archive_fail(&w, "cannot finish the stream");
	if (r >= 0)
		r = zstd_encoder_end(w.enc, sink, userdata);
out:
	zstd_encoder_free(w.enc);
	sha256_finish_hex(w.digest, stats.tree_digest);
	archive_write_free(w.a);
	free(w.buf);
	free(w.cached_uname);
	free(w.cached_gname);
	if (r < 0) {
		if (ret_error_path)
			*ret_error_path = TAKE_PTR(w.error_path);
		free(w.error_path);
		return r;
	}
	free(w.error_path);
	*ret = stats;
	return 0;
}

/* ---- extract ---- */

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

/* Does p have a ".." component? */
static int has_dotdot(const char *p)
{
	for (const char *s = p; s; s = strchr(s, '/')) {
		if (*s == '/')
			s++;
		if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
			return 1;
	}
	return 0;
}

/* Checks one entry; returns 0 or -EPERM with *ret_error set. *free_bytes
 * is what the disk had at the start, less what the entries so far declared. */
static int check_entry(struct archive_entry *e, char *const *allowed, uint64_t *free_bytes,
		       char **ret_error)
{
	const char *name = archive_entry_pathname(e);
	mode_t type = archive_entry_filetype(e);
	_cleanup_free_ char *abs = NULL;

	if (!name || !*name) {
		*ret_error = xstrdup("an entry without a name");
		return -EPERM;
	}
	if (name[0] == '/') {
		*ret_error = xasprintf("entry '%s' has an absolute path", name);
		return -EPERM;
	}
	if (has_dotdot(name)) {
		*ret_error = xasprintf("entry '%s' has a '..' component", name);
		return -EPERM;
	}
	if (archive_entry_hardlink(e)) {
		*ret_error = xasprintf("entry '%s' is a hard link", name);
		return -EPERM;
	}
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
		*ret_error = xasprintf("entry '%s' is a device, fifo or socket", name);
		return -EPERM;
	}
	abs = xasprintf("/%s", name);
	{
		size_t l = strlen(abs);
		while (l > 1 && abs[l - 1] == '/')
			abs[--l] = '\0';
	}
	if (!path_allowed(allowed, abs)) {
		*ret_error = xasprintf("entry '%s' is outside the state paths", name);
		return -EPERM;
	}
	if (type == AE_IFREG && archive_entry_size(e) > 0) {
		/* sparse files may need less; a restore near a full disk is refused */
		if ((uint64_t)archive_entry_size(e) > *free_bytes) {
			*ret_error = xasprintf("entry '%s' declares %" PRId64 " bytes, more than "
					       "the disk has free",
					       name, (int64_t)archive_entry_size(e));
			return -ENOSPC;
		}
		*free_bytes -= (uint64_t)archive_entry_size(e);
	}
	return 0;
}

/* Names resolved while extracting, the last of each kind cached: an
 * archive is mostly one owner. */
struct id_cache {
	char *uname, *gname;
	uid_t uid;
	gid_t gid;
};

/* The entry's owner on this machine: its user name when it exists here,
 * else its numeric id. */
static uid_t entry_uid(struct archive_entry *e, struct id_cache *ic)
{
	const char *name = archive_entry_uname(e);
	struct passwd *pw;

	if (!name || !*name)
		return (uid_t)archive_entry_uid(e);
	if (ic->uname && streq(ic->uname, name))
		return ic->uid;
	pw = getpwnam(name);
	free(ic->uname);
	ic->uname = xstrdup(name);
	ic->uid = pw ? pw->pw_uid : (uid_t)archive_entry_uid(e);
	return ic->uid;
}

/* The same for the entry's group. */
static gid_t entry_gid(struct archive_entry *e, struct id_cache *ic)
{
	const char *name = archive_entry_gname(e);
	struct group *gr;

	if (!name || !*name)
		return (gid_t)archive_entry_gid(e);
	if (ic->gname && streq(ic->gname, name))
		return ic->gid;
	gr = getgrnam(name);
	free(ic->gname);
	ic->gname = xstrdup(name);
	ic->gid = gr ? gr->gr_gid : (gid_t)archive_entry_gid(e);
	return ic->gid;
}

/* A bucket writer must not be able to plant a set-id program or a file
 * of another user: set-id bits (and sticky on non-directories) go, and
 * the owner becomes the workspace user unless the entry is already its. */
static void entry_sanitize(struct archive_entry *e, const struct tarball_owner *owner,
			   struct id_cache *ic)
{
	mode_t perm = archive_entry_perm(e) & ~(mode_t)(S_ISUID | S_ISGID);
	uid_t uid;
	gid_t gid;
	int member = 0;

	if (archive_entry_filetype(e) != AE_IFDIR)
		perm &= ~(mode_t)S_ISVTX;
	archive_entry_set_perm(e, perm);
	if (!owner)
		return;
	uid = entry_uid(e, ic);
	gid = entry_gid(e, ic);
	for (size_t i = 0; i < owner->n_groups && !member; i++)
		member = owner->groups[i] == gid;
	if (uid != owner->uid || (gid != owner->gid && !member)) {
		uid = owner->uid;
		gid = owner->gid;
	}
	/* numeric ids from here on: libarchive looks no name up again */
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_copy_uname(e, NULL);
	archive_entry_copy_gname(e, NULL);
}

/* The -errno of a failed write to disk: a full disk (blocks, inodes,
 * quota) as -ENOSPC, so that the message says so instead of "refused";
 * otherwise fallback. */
static int write_errno(struct archive *out, int fallback)
{
	int e = archive_errno(out);

	return e == ENOSPC || e == EDQUOT ? -ENOSPC : fallback;
}

/* Copies an entry's data blocks (holes stay holes). */
static int copy_data(struct archive *in, struct archive *out, char **ret_error)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int r = archive_read_data_block(in, &buf, &size, &offset);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN) {
			*ret_error =
			    xasprintf("corrupt archive: %s", strempty(archive_error_string(in)));
			return -EBADMSG;
		}
		/* libarchive reports a failed write(2) (a full disk) as only
		 * ARCHIVE_WARN, and the file would stay short: any warning here
		 * fails the restore. */
		if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_OK) {
			int k = write_errno(out, -EIO);

			*ret_error =
			    xasprintf("cannot write: %s%s", strempty(archive_error_string(out)),
				      k == -ENOSPC ? ": no space left on device" : "");
			return k;
		}
	}
}

int tarball_extract_fd(int fd, const char *staging, char *const *allowed,
		       const struct tarball_owner *owner, struct tarball_stats *ret,
		       char **ret_error)
{
	struct tarball_stats stats = {0};
	struct id_cache ic = {0};
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	_cleanup_close_ int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
		    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM |
		    ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SPARSE;
	struct statvfs vfs;
	uint64_t free_bytes = UINT64_MAX;
	int r = 0, k;

	*ret_error = NULL;
	if (statvfs(staging, &vfs) == 0)
		free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (owner)
		flags |= ARCHIVE_EXTRACT_OWNER;
	archive_read_support_filter_zstd(in);
	archive_read_support_format_tar(in);
	archive_write_disk_set_options(out, flags);
	if (cwd < 0 || chdir(staging) < 0) {
		r = -errno;
		*ret_error = xasprintf("cannot enter %s: %s", staging, strerror(-r));
		goto out;
	}
	if (archive_read_open_fd(in, fd, 64 * 1024) != ARCHIVE_OK) {
		*ret_error =
		    xasprintf("not a state archive: %s", strempty(archive_error_string(in)));
		r = -EBADMSG;
		goto out;
	}
	for (;;) {
		struct archive_entry *e;

		k = archive_read_next_header(in, &e);
		if (k == ARCHIVE_EOF)
			break;
		if (k < ARCHIVE_WARN) {
			*ret_error =
			    xasprintf("corrupt archive: %s", strempty(archive_error_string(in)));
			r = -EBADMSG;
			goto out;
		}
		r = check_entry(e, allowed, &free_bytes, ret_error);
		if (r < 0)
			goto out;
		entry_sanitize(e, owner, &ic);
		if (archive_write_header(out, e) < ARCHIVE_WARN) {
			r = write_errno(out, -EPERM);
			*ret_error = xasprintf(
			    r == -ENOSPC ? "entry '%s': %s: no space left on device"
					 : "entry '%s' refused: %s",
			    archive_entry_pathname(e), strempty(archive_error_string(out)));
			goto out;
		}
		if (archive_entry_size(e) > 0) {
			r = copy_data(in, out, ret_error);
			if (r < 0)
				goto out;
		}
		if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
			*ret_error = xasprintf("entry '%s': %s", archive_entry_pathname(e),
					       strempty(archive_error_string(out)));
			r = write_errno(out, -EIO);
			goto out;
		}
		stats.files++;
		if (archive_entry_filetype(e) == AE_IFREG)
			stats.bytes += (uint64_t)archive_entry_size(e);
	}
	/* Directory modes and times are set here, after their contents. */
	if (archive_write_close(out) < ARCHIVE_WARN) {
		*ret_error = xasprintf("cannot finish: %s", strempty(archive_error_string(out)));
		r = -EIO;
		goto out;
	}
	r = 0;
out:
	if (cwd >= 0 && fchdir(cwd) < 0)
		log_warning_errno(errno, "Cannot return to the working directory, ignoring: %m");
	archive_read_free(in);
	archive_write_free(out);
	free(ic.uname);
	free(ic.gname);
	if (r < 0)
		return r;
	*ret = stats;
	return 0;
}

/* ---- rm -rf ---- */

/* One directory on the way down: what identifies it, its name in its
 * parent, and its subdirectories still to remove. */
struct rm_level {
	dev_t dev;
	ino_t ino;
	char *name;
	char **subdirs;
	size_t n, next;
};

/* Unlinks every non-directory in the directory fd and lists its
 * subdirectories into l; the first error, or 0. Names are unlinked after
 * the directory was read to its end, so no entry is skipped. */
static int rm_scan(int fd, struct rm_level *l)
{
	_cleanup_free_ char **files = NULL;
	size_t cap = 0, nf = 0, fcap = 0;
	struct dirent *de;
	DIR *d;
	int dfd = dup(fd), r = 0;

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int is_dir = de->d_type == DT_DIR;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (de->d_type == DT_UNKNOWN)
			is_dir = fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				 S_ISDIR(st.st_mode);
		if (!is_dir) {
			if (nf == fcap) {
				fcap = fcap ? fcap * 2 : 16;
				files = xrealloc(files, fcap * sizeof(char *));
			}
			files[nf++] = xstrdup(de->d_name);
			continue;
		}
		if (l->n == cap) {
			cap = cap ? cap * 2 : 16;
			l->subdirs = xrealloc(l->subdirs, cap * sizeof(char *));
		}
		l->subdirs[l->n++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < nf; i++) {
		if (unlinkat(fd, files[i], 0) < 0 && errno != ENOENT && r == 0)
			r = -errno;
		free(files[i]);
	}
	return r;
}

/* Frees a level's names. */
static void rm_level_done(struct rm_level *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->subdirs[i]);
	free(l->subdirs);
	free(l->name);
}

/* Removes the tree below the directory path, relative to one directory fd
 * at a time: no path is ever built, so there is no PATH_MAX limit and no
 * fd per level. Going back up through ".." is checked against the inode
 * recorded on the way down, so a directory moved meanwhile stops us
 * (-ESTALE) instead of leading us elsewhere. */
static int rm_tree(const char *path)
{
	struct rm_level *stack = NULL;
	size_t depth = 0, cap = 0;
	struct stat st;
	int fd, r = 0, k;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	cap = 16;
	stack = xcalloc(cap, sizeof(*stack));
	stack[0] = (struct rm_level){.dev = st.st_dev, .ino = st.st_ino};
	r = rm_scan(fd, &stack[0]);
	for (;;) {
		struct rm_level *top = &stack[depth];

		if (top->next < top->n) {
			char *name = top->subdirs[top->next++];
			int cfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (cfd < 0) {
				/* gone, or no longer a directory: unlink what is there */
				if (errno != ENOENT && unlinkat(fd, name, 0) < 0 &&
				    errno != ENOENT && r == 0)
					r = -errno;
				continue;
			}
			if (fstat(cfd, &st) < 0) {
				if (r == 0)
					r = -errno;
				close(cfd);
				continue;
			}
			if (depth + 1 == cap) {
				cap *= 2;
				stack = xrealloc(stack, cap * sizeof(*stack));
			}
			stack[++depth] = (struct rm_level){
			    .dev = st.st_dev, .ino = st.st_ino, .name = xstrdup(name)};
			close(fd);
			fd = cfd;
			k = rm_scan(fd, &stack[depth]);
			if (k < 0 && r == 0)
				r = k;
			continue;
		}
		if (depth == 0)
			break;
		{
			int pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (pfd < 0 || fstat(pfd, &st) < 0 || st.st_dev != stack[depth - 1].dev ||
			    st.st_ino != stack[depth - 1].ino) {
				if (pfd >= 0)
					close(pfd);
				r = -ESTALE;
				break;
			}
			close(fd);
			fd = pfd;
		}
		if (unlinkat(fd, top->name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
			r = -errno;
		rm_level_done(top);
		depth--;
	}
	close(fd);
	for (size_t i = 0; i <= depth; i++)
		rm_level_done(&stack[i]);
	free(stack);
	return r;
}

int rm_rf(const char *path)
{
	struct stat st;
	int r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	r = rm_tree(path);
	if (r < 0)
		return r;
	return rmdir(path) < 0 && errno != ENOENT ? -errno : 0;
}
