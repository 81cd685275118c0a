/* The files signal: a write anywhere under idle.watch_paths is activity.
 *
 * Backends, chosen at init:
 *  - fanotify (the daemon runs as root): one FAN_MARK_FILESYSTEM mark per
 *    filesystem holding a watch root (or a mount below one), FAN_MARK_MOUNT
 *    where the filesystem mark is refused, for FAN_MODIFY and
 *    FAN_CLOSE_WRITE. Events carry the written file's directory as a file
 *    handle plus its name (FAN_REPORT_DFID_NAME); the directory is opened
 *    through our own mount and its path read from /proc/self/fd. A
 *    filesystem mark sees writes made through any mount of it, so a bind
 *    mount in the workspace container's mount namespace counts too, even
 *    after that namespace is gone.
 *  - inotify, where fanotify is refused (EPERM, ENOSYS, EINVAL before Linux
 *    5.9, ...) or forced with AGENTBOX_FILES_BACKEND=inotify: one watch per
 *    directory, set up by walking the trees once at init (the only cost
 *    that grows with the tree), then kept up as directories appear, move
 *    and go.
 *
 * A check drains the queue and costs what the writes since the previous
 * check cost, never a walk of the tree. Writes by the daemon itself
 * (status.json, backups) are dropped by pid (fanotify only: inotify does not
 * say who wrote). A full queue is activity: we cannot know what was written. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "log.h"
#include "monitor-files.h"
#include "monitor.h"

/* Reads per check: bounds the time a check may spend under a write storm;
 * what is left waits for the next check. */
#define FILES_READS_MAX 64
#define FILES_INOTIFY_BUF (64 * 1024)
#define FILES_FAN_BUF (64 * 1024)
#define FILES_CACHE_SIZE 256
#define FILES_CACHE_HANDLE_MAX 40
#define FILES_DETAIL_OVERFLOW "many writes (queue overflow)"
#define FILES_DETAIL_UNKNOWN "a write (path unknown)"

enum files_backend {
	FILES_FANOTIFY,
	FILES_INOTIFY,
};

/* fanotify: a marked filesystem, and an fd on it for open_by_handle_at(). */
struct files_fs {
	fsid_t fsid;
	int mount_fd;
};

/* fanotify: a directory known to lie outside the roots (most writes on a
 * filesystem do), so its events cost no lookup. Cleared on any directory
 * move and on overflow. */
struct files_outside {
	uint8_t len; /* 0: empty */
	int type;
	fsid_t fsid;
	unsigned char handle[FILES_CACHE_HANDLE_MAX];
};

/* inotify: watch descriptor -> directory path, open addressing. */
struct files_wd {
	int wd; /* 0: empty slot */
	char *path;
};

struct files {
	enum files_backend backend;
	int fd;
	pid_t self;
	char **roots;	 /* watch roots, canonical and as configured, NULL-terminated */
	char **excludes; /* trailing '/' removed, NULL-terminated */
	char *buf;
	size_t buf_size;
	/* fanotify */
	struct files_fs *fs;
	size_t n_fs;
	const struct fanotify_event_info_fid **events; /* of one read */
	int dir_cached;				       /* dir holds the path of dir_handle */
	fsid_t dir_fsid;
	size_t dir_handle_len;
	unsigned char dir_handle[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	char dir[PATH_MAX];
	int no_cache;
	struct files_outside outside[FILES_CACHE_SIZE];
	/* inotify */
	struct files_wd *wds;
	size_t wds_size; /* power of two */
	size_t n_wds;
	int watch_limit_hit;
	char path[PATH_MAX]; /* scratch */
	char last[PATH_MAX]; /* the latest counted path of this check */
};

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* Appends a copy of s to the NULL-terminated *v of *n entries. */
static void strv_push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

/* Removes trailing slashes, keeping a lone "/". */
static void strip_slashes(char *p)
{
	size_t l = strlen(p);

	while (l > 1 && p[l - 1] == '/')
		p[--l] = '\0';
}

/* Length of root when path lies under it (on a component boundary), else 0. */
static size_t under(const char *path, const char *root)
{
	size_t l = strlen(root);

	if (l == 1 && root[0] == '/')
		return path[0] == '/' ? 1 : 0;
	if (strncmp(path, root, l) != 0 || (path[l] != '\0' && path[l] != '/'))
		return 0;
	return l;
}

const char *files_watch_root(char *const *roots, const char *path)
{
	for (char *const *r = roots; r && *r; r++)
		if (under(path, *r))
			return *r;
	return NULL;
}

int files_path_excluded(char *const *patterns, const char *root, const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), rel, comp;

	if (!patterns || !*patterns)
		return 0;
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	memcpy(buf, path, len);
	buf[len] = '\0';

	/* absolute patterns: the path and each of its ancestors */
	for (size_t e = 1; e <= len; e++) {
		if (e < len && buf[e] != '/')
			continue;
		buf[e] = '\0';
		for (char *const *p = patterns; *p; p++)
			if ((*p)[0] == '/' && fnmatch(*p, buf, FNM_PATHNAME) == 0)
				return 1;
		if (e < len)
			buf[e] = '/';
	}

	/* relative patterns: from the root down */
	rel = under(buf, root);
	if (rel == 0)
		return 0;
	while (buf[rel] == '/')
		rel++;
	for (size_t e = rel, start = rel; e <= len && rel < len; e++) {
		if (e < len && buf[e] != '/')
			continue;
		comp = start;
		buf[e] = '\0';
		for (char *const *p = patterns; *p; p++) {
			if ((*p)[0] == '/')
				continue;
			if (fnmatch(*p, strchr(*p, '/') ? buf + rel : buf + comp, FNM_PATHNAME) ==
			    0)
				return 1;
		}
		if (e < len)
			buf[e] = '/';
		start = e + 1;
	}
	return 0;
}

const char *files_backend_name(const struct signal_source *s)
{
	const struct files *f = s->data;

	if (!f)
		return NULL;
	return f->backend == FILES_FANOTIFY ? "fanotify" : "inotify";
}

/* Does path count: under a root and not excluded? Remembers it in f->last. */
static int files_count(struct files *f, const char *path)
{
	const char *root = files_watch_root(f->roots, path);

	if (!root || files_path_excluded(f->excludes, root, path))
		return 0;
	snprintf(f->last, sizeof(f->last), "%s", path);
	return 1;
}

/* Records the outcome of one check. */
static void files_record(struct signal_source *s, const struct monitor_tick *t, int counted,
			 int overflow, int unknown)
{
	struct files *f = s->data;

	if (overflow)
		signal_active(s, t->now, FILES_DETAIL_OVERFLOW);
	else if (counted)
		signal_active(s, t->now, "%s", f->last);
	else if (unknown)
		signal_active(s, t->now, FILES_DETAIL_UNKNOWN);
}

/* --- fanotify ----------------------------------------------------------- */

/* Marks the filesystem holding path (or, refused, its mount) and keeps an
 * fd on it to open the directory handles of its events. Returns 0 or the
 * -errno of the mount mark. */
static int fan_mark(struct files *f, const char *path, int *ret_mount_only)
{
	/* directory moves clear the cache of directories outside the roots */
	const uint64_t mask =
	    FAN_MODIFY | FAN_CLOSE_WRITE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ONDIR;
	struct statfs sfs;
	int fd;

	if (fanotify_mark(f->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, path) < 0) {
		/* a mount mark takes no directory-entry events: no cache then */
		if (fanotify_mark(f->fd, FAN_MARK_ADD | FAN_MARK_MOUNT,
				  FAN_MODIFY | FAN_CLOSE_WRITE, AT_FDCWD, path) < 0)
			return -errno;
		*ret_mount_only = 1;
		f->no_cache = 1;
	}
	/* open_by_handle_at() refuses an O_PATH fd as its mount fd */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstatfs(fd, &sfs) < 0) {
		int r = -errno;

		if (fd >= 0)
			close(fd);
		return r;
	}
	f->fs = xrealloc(f->fs, (f->n_fs + 1) * sizeof(*f->fs));
	memcpy(&f->fs[f->n_fs].fsid, &sfs.f_fsid, sizeof(f->fs[f->n_fs].fsid));
	f->fs[f->n_fs++].mount_fd = fd;
	return 0;
}

/* Decodes the \ooo escapes of a /proc/self/mountinfo field in place. */
static void mountinfo_unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else
			*w++ = *r;
	}
	*w = '\0';
}

/* Marks the filesystems mounted below the roots (a tmpfs on ~/.cache, a
 * second disk on ~/data): a filesystem mark does not reach across mounts.
 * Mounts made later, and mounts refusing both marks, are not seen (logged). */
static void fan_mark_submounts(struct files *f, int *ret_mount_only)
{
	_cleanup_fclose_ FILE *mi = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int r;

	if (!mi)
		return;
	while (getline(&line, &cap, mi) > 0) {
		char *mp, *save = NULL;

		/* id parent maj:min root mountpoint ... */
		mp = strtok_r(line, " ", &save);
		for (int i = 0; mp && i < 4; i++)
			mp = strtok_r(NULL, " ", &save);
		if (!mp)
			continue;
		mountinfo_unescape(mp);
		if (!files_watch_root(f->roots, mp) || streq(mp, "/"))
			continue;
		r = fan_mark(f, mp, ret_mount_only);
		if (r < 0)
			log_warning("fanotify refused to mark the mount %s, writes there are not "
				    "seen: %s",
				    mp, strerror(-r));
	}
}

/* The nearest existing ancestor of path (itself included), in buf. */
static const char *existing_ancestor(const char *path, char *buf, size_t size)
{
	struct stat st;
	char *slash;

	snprintf(buf, size, "%s", path);
	while (stat(buf, &st) < 0) {
		slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return "/";
		*slash = '\0';
	}
	return buf;
}

/* Sets up fanotify; -errno when refused, for the caller to fall back. */
static int fan_init(struct files *f)
{
	int mount_only = 0, r;

	/* FAN_REPORT_DFID_NAME (Linux 5.9): events name the directory by a
	 * file handle, which we open through our own mount. A path taken
	 * from an event fd instead would be the writer's view: relative to
	 * its bind mount, once its mount namespace is gone. */
	f->fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC | FAN_NONBLOCK,
			      O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	for (char **p = f->roots; *p; p++) {
		r = fan_mark(f, existing_ancestor(*p, f->path, sizeof(f->path)), &mount_only);
		if (r < 0) {
			log_info("fanotify refused to mark %s: %s", *p, strerror(-r));
			return r;
		}
	}
	fan_mark_submounts(f, &mount_only);
	if (mount_only)
		log_notice("fanotify: filesystem marks refused, using mount marks: writes through "
			   "bind mounts in other mount namespaces are not seen");
	f->buf_size = FILES_FAN_BUF;
	f->buf = xmalloc(f->buf_size);
	f->events = xcalloc(f->buf_size / FAN_EVENT_METADATA_LEN, sizeof(*f->events));
	f->backend = FILES_FANOTIFY;
	return 0;
}

/* Undoes fan_init() for the fallback. */
static void fan_close(struct files *f)
{
	for (size_t i = 0; i < f->n_fs; i++)
		close(f->fs[i].mount_fd);
	free(f->fs);
	f->fs = NULL;
	f->n_fs = 0;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* The directory-and-name record of the event m (whose header is md), or NULL. */
static const struct fanotify_event_info_fid *fan_event_fid(const char *m,
							   const struct fanotify_event_metadata *md)
{
	const char *p = m + md->metadata_len, *end = m + md->event_len;

	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *h = (const void *)p;

		if (h->len < sizeof(*h) || p + h->len > end)
			return NULL;
		if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME &&
		    h->len > sizeof(struct fanotify_event_info_fid) + sizeof(struct file_handle))
			return (const void *)p;
		p += h->len;
	}
	return NULL;
}

/* The cache slot of a directory handle (FNV-1a), or NULL when not cacheable. */
static struct files_outside *fan_cache_slot(struct files *f, const void *fsid,
					    const struct file_handle *fh)
{
	const unsigned char *p = (const unsigned char *)fh->f_handle;
	uint32_t h = 2166136261u;

	if (f->no_cache || fh->handle_bytes > FILES_CACHE_HANDLE_MAX)
		return NULL;
	for (size_t i = 0; i < sizeof(fsid_t); i++)
		h = (h ^ ((const unsigned char *)fsid)[i]) * 16777619u;
	for (unsigned i = 0; i < fh->handle_bytes; i++)
		h = (h ^ p[i]) * 16777619u;
	h = (h ^ (uint32_t)fh->handle_type) * 16777619u;
	return &f->outside[h % FILES_CACHE_SIZE];
}

/* Is the directory known to lie outside the roots? */
static int fan_cache_outside(struct files *f, const void *fsid, const struct file_handle *fh)
{
	const struct files_outside *c = fan_cache_slot(f, fsid, fh);

	return c && c->len == fh->handle_bytes && c->type == fh->handle_type &&
	       memcmp(&c->fsid, fsid, sizeof(c->fsid)) == 0 &&
	       memcmp(c->handle, fh->f_handle, fh->handle_bytes) == 0;
}

static void fan_cache_put(struct files *f, const void *fsid, const struct file_handle *fh)
{
	struct files_outside *c = fan_cache_slot(f, fsid, fh);

	if (!c)
		return;
	c->len = (uint8_t)fh->handle_bytes;
	c->type = fh->handle_type;
	memcpy(&c->fsid, fsid, sizeof(c->fsid));
	memcpy(c->handle, fh->f_handle, fh->handle_bytes);
}

/* Is there a marked mount of fsid after entry i? */
static int fan_fs_next(const struct files *f, size_t i, const void *fsid)
{
	for (size_t j = i + 1; j < f->n_fs; j++)
		if (memcmp(fsid, &f->fs[j].fsid, sizeof(f->fs[j].fsid)) == 0)
			return 1;
	return 0;
}

/* Resolves an event to its path in f->path: 1 when resolved, 0 when the
 * directory is gone, -errno when handles cannot be opened at all. The
 * directory of the previous event is remembered: writes come in bursts. */
static int fan_event_path(struct files *f, const struct fanotify_event_info_fid *fid)
{
	const struct file_handle *fh = (const void *)fid->handle;
	const char *name = (const char *)fh->f_handle + fh->handle_bytes;
	size_t hlen = sizeof(*fh) + fh->handle_bytes;
	int r = 0;

	if (fh->handle_bytes > MAX_HANDLE_SZ || fan_cache_outside(f, &fid->fsid, fh))
		return 0;
	if (!(f->dir_cached && hlen == f->dir_handle_len &&
	      memcmp(&fid->fsid, &f->dir_fsid, sizeof(f->dir_fsid)) == 0 &&
	      memcmp(fh, f->dir_handle, hlen) == 0)) {
		f->dir_cached = 0;
		for (size_t i = 0; i < f->n_fs; i++) {
			char proc[64];
			ssize_t n;
			int fd;

			if (memcmp(&fid->fsid, &f->fs[i].fsid, sizeof(f->fs[i].fsid)) != 0)
				continue;
			fd = open_by_handle_at(f->fs[i].mount_fd, (struct file_handle *)fh,
					       O_PATH | O_CLOEXEC);
			if (fd < 0) {
				r = errno == ESTALE || errno == ENOENT ? 0 : -errno;
				continue;
			}
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			n = readlink(proc, f->dir, sizeof(f->dir) - 1);
			close(fd);
			if (n <= 0)
				continue;
			f->dir[n] = '\0';
			if (!files_watch_root(f->roots, f->dir) && fan_fs_next(f, i, &fid->fsid))
				continue; /* maybe another mount of this filesystem shows it */
			memcpy(f->dir_handle, fh, hlen);
			f->dir_handle_len = hlen;
			memcpy(&f->dir_fsid, &fid->fsid, sizeof(f->dir_fsid));
			f->dir_cached = 1;
			break;
		}
		if (!f->dir_cached)
			return r;
	}
	if (!files_watch_root(f->roots, f->dir)) {
		fan_cache_put(f, &fid->fsid, fh);
		return 0; /* not ours: do not bother with the name */
	}
	if (snprintf(f->path, sizeof(f->path), "%s%s%s", f->dir, streq(f->dir, "/") ? "" : "/",
		     name) >= (int)sizeof(f->path))
		return 0;
	return 1;
}

/* Drains the queue. Within one read the events are looked at newest first,
 * and once one counts the older ones are skipped. */
static int fan_sample(struct signal_source *s, const struct monitor_tick *t)
{
	struct files *f = s->data;
	int counted = 0, overflow = 0, r;

	f->dir_cached = 0; /* directories may have moved since the last check */
	for (int reads = 0; reads < FILES_READS_MAX; reads++) {
		struct fanotify_event_metadata md;
		const struct fanotify_event_info_fid *fid;
		size_t n = 0;
		ssize_t len = read(f->fd, f->buf, f->buf_size);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			/* events were lost with the error: assume the worst */
			files_record(s, t, counted, overflow, 1);
			return signal_degrade(s, -errno, "reading fanotify events: %s",
					      strerror(errno));
		}
		if (len == 0)
			break;
		/* records are 4-byte aligned, the header's mask is a u64: copy it */
		for (const char *m = f->buf; f->buf + len - m >= (ssize_t)sizeof(md);
		     m += md.event_len) {
			memcpy(&md, m, sizeof(md));
			if (md.event_len < sizeof(md) || md.event_len > f->buf + len - m)
				break;
			if (md.mask & FAN_Q_OVERFLOW) {
				overflow = 1; /* moves may be lost too */
				memset(f->outside, 0, sizeof(f->outside));
			} else if (md.mask & FAN_ONDIR) {
				/* a moved directory may carry cached ones in or out */
				memset(f->outside, 0, sizeof(f->outside));
			} else if (md.mask & FAN_MOVED_FROM) {
				continue;
			} else if (md.vers == FANOTIFY_METADATA_VERSION && md.pid != f->self &&
				   (fid = fan_event_fid(m, &md)))
				f->events[n++] = fid; /* a write, or a file moved in */
		}
		while (n-- > 0) {
			r = fan_event_path(f, f->events[n]);
			if (r < 0) {
				files_record(s, t, counted, overflow, 1);
				return signal_degrade(s, r, "opening fanotify file handles: %s",
						      strerror(-r));
			}
			if (r > 0 && files_count(f, f->path)) {
				counted = 1;
				break;
			}
		}
	}
	files_record(s, t, counted, overflow, 0);
	signal_recover(s);
	return 0;
}

/* --- inotify ------------------------------------------------------------ */

#define INOTIFY_DIR_MASK                                                                           \
	(IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR |       \
	 IN_DONT_FOLLOW)

static size_t wd_slot(const struct files *f, int wd)
{
	return ((size_t)(unsigned)wd * 2654435761u) & (f->wds_size - 1);
}

static struct files_wd *wd_find(struct files *f, int wd)
{
	for (size_t i = wd_slot(f, wd);; i = (i + 1) & (f->wds_size - 1)) {
		if (f->wds[i].wd == wd)
			return &f->wds[i];
		if (f->wds[i].wd == 0)
			return NULL;
	}
}

/* Adds wd, which must not be in the table, taking ownership of path. */
static void wd_insert(struct files *f, int wd, char *path)
{
	size_t i;

	for (i = wd_slot(f, wd); f->wds[i].wd; i = (i + 1) & (f->wds_size - 1))
		;
	f->wds[i].wd = wd;
	f->wds[i].path = path;
	f->n_wds++;
}

/* Doubles the table (at most half full, so probes stay short). */
static void wd_grow(struct files *f)
{
	struct files_wd *old = f->wds;
	size_t old_size = f->wds_size;

	f->wds_size = old_size ? old_size * 2 : 256;
	f->wds = xcalloc(f->wds_size, sizeof(*f->wds));
	f->n_wds = 0;
	for (size_t i = 0; i < old_size; i++)
		if (old[i].wd)
			wd_insert(f, old[i].wd, old[i].path);
	free(old);
}

/* Sets the directory path of wd (copied). */
static void wd_put(struct files *f, int wd, const char *path)
{
	struct files_wd *e = wd_find(f, wd);

	if (e) {
		free(e->path);
		e->path = xstrdup(path);
		return;
	}
	if ((f->n_wds + 1) * 2 > f->wds_size)
		wd_grow(f);
	wd_insert(f, wd, xstrdup(path));
}

/* Removes wd, shifting back the entries its slot displaced. */
static void wd_del(struct files *f, int wd)
{
	struct files_wd *e = wd_find(f, wd);
	size_t mask = f->wds_size - 1, i, j;

	if (!e)
		return;
	free(e->path);
	i = (size_t)(e - f->wds);
	for (j = (i + 1) & mask; f->wds[j].wd; j = (j + 1) & mask) {
		size_t home = wd_slot(f, f->wds[j].wd);

		/* entry j may move to i when its home is not in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			f->wds[i] = f->wds[j];
			i = j;
		}
	}
	f->wds[i].wd = 0;
	f->wds[i].path = NULL;
	f->n_wds--;
}

/* Reads the current watch limit for the degrade message; -1 when unknown. */
static long inotify_max_watches(void)
{
	_cleanup_fclose_ FILE *fp = fopen("/proc/sys/fs/inotify/max_user_watches", "re");
	long v = -1;

	if (fp && fscanf(fp, "%ld", &v) != 1)
		v = -1;
	return v;
}

/* Watches dir and every directory below it that no exclude covers. One
 * walk, proportional to the tree: at init, and for a directory that
 * appears or moves in. Returns 0, or -ENOSPC when the watch limit stopped
 * it (degraded). */
static int inotify_walk(struct signal_source *s, const char *dir)
{
	struct files *f = s->data;
	char **stack = NULL;
	size_t n = 0;
	int r = 0;

	strv_push(&stack, &n, dir);
	while (n > 0) {
		_cleanup_free_ char *path = stack[--n];
		const char *root = files_watch_root(f->roots, path);
		DIR *d;
		struct dirent *de;
		int wd;

		stack[n] = NULL;
		if (!root || files_path_excluded(f->excludes, root, path))
			continue;
		wd = inotify_add_watch(f->fd, path, INOTIFY_DIR_MASK);
		if (wd < 0) {
			if (errno == ENOSPC) {
				f->watch_limit_hit = 1;
				r = signal_degrade(s, -ENOSPC,
						   "inotify watch limit reached "
						   "(fs.inotify.max_user_watches=%ld) under %s: "
						   "raise it with sysctl",
						   inotify_max_watches(), path);
				break;
			}
			continue; /* gone, not a directory, or no access */
		}
		wd_put(f, wd, path);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			struct stat st;

			if (streq(de->d_name, ".") || streq(de->d_name, ".."))
				continue;
			if (de->d_type == DT_UNKNOWN &&
			    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(st.st_mode))
				de->d_type = DT_DIR;
			if (de->d_type != DT_DIR)
				continue;
			{
				_cleanup_free_ char *sub = xasprintf(
				    "%s%s%s", path, streq(path, "/") ? "" : "/", de->d_name);
				strv_push(&stack, &n, sub);
			}
		}
		closedir(d);
	}
	strv_free(stack);
	return r;
}

/* Stops watching dir and everything below it (moved out of sight). */
static void inotify_forget(struct files *f, const char *dir)
{
	for (size_t i = 0; i < f->wds_size; i++)
		if (f->wds[i].wd && f->wds[i].path && under(f->wds[i].path, dir))
			inotify_rm_watch(f->fd, f->wds[i].wd); /* IN_IGNORED removes the entry */
}

/* Sets up inotify and walks the roots that exist. */
static int inotify_init_backend(struct signal_source *s)
{
	struct files *f = s->data;
	struct stat st;

	f->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->fd < 0)
		return signal_degrade(s, -errno, "inotify: %s", strerror(errno));
	f->backend = FILES_INOTIFY;
	f->buf_size = FILES_INOTIFY_BUF;
	f->buf = xmalloc(f->buf_size);
	wd_grow(f);
	for (char **p = f->roots; *p; p++) {
		if (stat(*p, &st) < 0 || !S_ISDIR(st.st_mode)) {
			log_warning("inotify: watch path %s is not a directory, not watching it",
				    *p);
			continue;
		}
		if (wd_find(f, inotify_add_watch(f->fd, *p, INOTIFY_DIR_MASK)))
			continue; /* the same directory under another name */
		if (inotify_walk(s, *p) < 0)
			return -ENOSPC;
	}
	log_info("inotify: watching writes in %zu directories", f->n_wds);
	return 0;
}

/* Handles one inotify event; 1 when it counts as a write. */
static int inotify_event(struct signal_source *s, const struct inotify_event *ev, int *rewalk)
{
	struct files *f = s->data;
	struct files_wd *e;

	if (ev->mask & IN_Q_OVERFLOW) {
		*rewalk = 1; /* directories made meanwhile have no watch yet */
		return 0;
	}
	if (ev->mask & IN_IGNORED) {
		wd_del(f, ev->wd);
		return 0;
	}
	e = wd_find(f, ev->wd);
	if (!e || !e->path)
		return 0;
	if (ev->len > 0)
		snprintf(f->path, sizeof(f->path), "%s%s%s", e->path,
			 streq(e->path, "/") ? "" : "/", ev->name);
	else
		snprintf(f->path, sizeof(f->path), "%s", e->path);
	if (ev->mask & IN_ISDIR) {
		if (ev->mask & IN_MOVED_FROM) {
			inotify_forget(f, f->path);
			return 0;
		}
		if (!(ev->mask & (IN_CREATE | IN_MOVED_TO)))
			return 0;
		/* writes into a new directory may come before its watch:
		 * the new directory itself counts */
		{
			_cleanup_free_ char *dir = xstrdup(f->path);

			inotify_walk(s, dir);
			return files_count(f, dir);
		}
	}
	if (!(ev->mask & (IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO)))
		return 0;
	return files_count(f, f->path);
}

/* Drains the inotify queue. */
static int inotify_sample(struct signal_source *s, const struct monitor_tick *t)
{
	struct files *f = s->data;
	int counted = 0, overflow = 0, rewalk = 0;

	for (int reads = 0; reads < FILES_READS_MAX; reads++) {
		ssize_t len = read(f->fd, f->buf, f->buf_size);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			files_record(s, t, counted, overflow, 1);
			return signal_degrade(s, -errno, "reading inotify events: %s",
					      strerror(errno));
		}
		for (char *p = f->buf; p < f->buf + len;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				overflow = 1;
			if (inotify_event(s, ev, &rewalk))
				counted = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
	if (rewalk && !f->watch_limit_hit)
		for (char **p = f->roots; *p; p++)
			if (inotify_walk(s, *p) < 0) {
				files_record(s, t, counted, overflow, 0);
				return -ENOSPC;
			}
	files_record(s, t, counted, overflow, 0);
	/* a hit watch limit stays: some directories have no watch */
	if (!f->watch_limit_hit)
		signal_recover(s);
	return 0;
}

/* --- the signal source -------------------------------------------------- */

static void files_free(struct files *f)
{
	if (!f)
		return;
	fan_close(f);
	for (size_t i = 0; i < f->wds_size; i++)
		free(f->wds[i].path);
	free(f->wds);
	strv_free(f->roots);
	strv_free(f->excludes);
	free(f->buf);
	free(f->events);
	free(f);
}

/* Copies the roots (canonical spelling first, the configured one too when
 * it differs: a writer in another mount namespace reports its own) and the
 * excludes. A root below another root is dropped, so a path has one root. */
static void files_load_config(struct files *f, const struct config *c)
{
	size_t n = 0, m = 0, k = 0;

	f->roots = xcalloc(1, sizeof(char *));
	f->excludes = xcalloc(1, sizeof(char *));
	for (char **p = c->idle_watch_paths; p && *p; p++) {
		_cleanup_free_ char *real = realpath(*p, NULL);
		_cleanup_free_ char *conf = xstrdup(*p);

		strip_slashes(conf);
		if (real && !files_watch_root(f->roots, real))
			strv_push(&f->roots, &n, real);
		if (!files_watch_root(f->roots, conf))
			strv_push(&f->roots, &n, conf);
	}
	for (size_t i = 0; i < n; i++) {
		int covered = 0;

		for (size_t j = 0; j < n && !covered; j++)
			covered = j != i && !streq(f->roots[i], f->roots[j]) &&
				  under(f->roots[i], f->roots[j]);
		if (covered)
			free(f->roots[i]);
		else
			f->roots[k++] = f->roots[i];
	}
	f->roots[k] = NULL;
	for (char **p = c->idle_exclude_paths; p && *p; p++) {
		strv_push(&f->excludes, &m, *p);
		strip_slashes(f->excludes[m - 1]);
	}
}

static int files_init(struct signal_source *s)
{
	struct files *f = xcalloc(1, sizeof(*f));
	const char *want = getenv("AGENTBOX_FILES_BACKEND");
	int r;

	f->fd = -1;
	f->self = getpid();
	s->data = f;
	files_load_config(f, s->config);
	if (!f->roots[0]) {
		log_notice("No idle.watch_paths: the files signal watches nothing");
		f->backend = FILES_INOTIFY;
		return 0;
	}
	if (want && !streq(want, "inotify") && !streq(want, "fanotify") && !streq(want, "auto"))
		log_warning("AGENTBOX_FILES_BACKEND=%s is not fanotify, inotify or auto, ignoring",
			    want);
	if (!want || !streq(want, "inotify")) {
		r = fan_init(f);
		if (r < 0)
			fan_close(f);
		if (r == 0) {
			log_info("Watching writes under %s%s with fanotify", f->roots[0],
				 f->roots[1] ? " and more" : "");
			return 0;
		}
		if (want && streq(want, "fanotify"))
			return signal_degrade(s, r, "fanotify refused: %s", strerror(-r));
		log_notice("fanotify refused (%s), falling back to inotify", strerror(-r));
	}
	return inotify_init_backend(s);
}

static int files_sample(struct signal_source *s, const struct monitor_tick *t)
{
	struct files *f = s->data;

	if (!f || f->fd < 0)
		return 0; /* nothing to watch, or degraded at init */
	return f->backend == FILES_FANOTIFY ? fan_sample(s, t) : inotify_sample(s, t);
}

static void files_done(struct signal_source *s)
{
	files_free(s->data);
	s->data = NULL;
}

static const struct signal_ops files_ops = {
    .name = "files",
    .order = 10,
    .init = files_init,
    .sample = files_sample,
    .done = files_done,
};

SIGNAL_SOURCE_REGISTER(files_ops);
