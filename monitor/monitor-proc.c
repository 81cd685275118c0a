/* The shared /proc snapshot; see monitor-proc.h.
 *
 * /proc/<pid>/stat grammar (proc(5)); comm may hold spaces and ')', so it
 * runs from the first '(' to the last ')':
 *   pid " (" comm ") " state " " ppid pgrp session tty_nr tpgid flags
 *   minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
 *   num_threads itrealvalue starttime ...
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor-proc-internal.h"
#include "monitor-proc.h"
#include "monitor.h"

#define PROC_STAT_MAX 2048
#define PROC_SHRINK_MIN 256
/* Open stat files kept at most: each holds a page of kernel memory. */
#define PROC_FDS_MAX 1024

struct proc_fd {
	pid_t pid;
	int fd;
};

static struct {
	unsigned users;
	char *root; /* NULL: "/proc" */
	DIR *dir;   /* kept open across scans, rewound each time */
	int valid;  /* snap holds a scan of tick (snap.seq, snap.now) */
	size_t n_alloc;
	struct proc_snapshot snap;
	long clk_tck;
	uint64_t cmdline_reads;
	uint64_t stat_reads; /* stat files read, by scans and proc_stat_read() */
	/* open /proc/<pid>/stat files, sorted by pid: a pread() per tick
	 * costs a third of open+read+close */
	struct proc_fd *fds, *fds_next;
	size_t n_fds, fds_max;
} proc;

void proc_snapshot_acquire(void)
{
	proc.users++;
}

/* Frees everything; the next get() starts afresh. */
static void proc_snapshot_free(void)
{
	if (proc.dir)
		closedir(proc.dir);
	proc.dir = NULL;
	for (size_t i = 0; i < proc.n_fds; i++)
		close(proc.fds[i].fd);
	free(proc.fds);
	free(proc.fds_next);
	proc.fds = proc.fds_next = NULL;
	proc.n_fds = 0;
	free(proc.snap.procs);
	proc.snap.procs = NULL;
	proc.snap.n = 0;
	proc.n_alloc = 0;
	proc.valid = 0;
}

void proc_snapshot_release(void)
{
	if (proc.users > 0 && --proc.users == 0)
		proc_snapshot_free();
}

void proc_snapshot_set_root(const char *root)
{
	proc_snapshot_free();
	free(proc.root);
	proc.root = root ? xstrdup(root) : NULL;
}

const char *proc_root(void)
{
	return proc.root ? proc.root : "/proc";
}

usec_t proc_ticks_to_usec(uint64_t ticks)
{
	if (proc.clk_tck <= 0) {
		proc.clk_tck = sysconf(_SC_CLK_TCK);
		if (proc.clk_tck <= 0)
			proc.clk_tck = 100;
	}
	return ticks * USEC_PER_SEC / (uint64_t)proc.clk_tck;
}

int proc_name_match(const char *name, size_t len, char *const *names)
{
	for (size_t i = 0; names && names[i]; i++) {
		size_t l = strlen(names[i]);

		if (l == 0)
			continue;
		if (len >= l && memcmp(name, names[i], l) == 0 &&
		    (len == l || !isalnum((unsigned char)name[l])))
			return (int)i;
		/* the kernel cuts command names to 15 bytes */
		if (len == 15 && l > 15 && memcmp(name, names[i], 15) == 0)
			return (int)i;
	}
	return -1;
}

/* Parses one stat line into *p; 0 or -EINVAL. */
int proc_parse_stat(char *buf, size_t size, struct proc_info *p)
{
	char *open = memchr(buf, '(', size), *close = memrchr(buf, ')', size), *s, *end;
	long long v[20]; /* fields 4 (ppid) to 22 (starttime) */
	size_t l;

	if (!open || !close || close < open || close + 3 >= buf + size)
		return -EINVAL;
	l = MIN((size_t)(close - open - 1), sizeof(p->comm) - 1);
	memcpy(p->comm, open + 1, l);
	p->comm[l] = '\0';
	p->state = close[2];
	s = close + 3;
	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		errno = 0;
		v[i] = strtoll(s, &end, 10);
		if (end == s || errno != 0)
			return -EINVAL;
		s = end;
	}
	p->ppid = (pid_t)v[0];
	p->sid = (pid_t)v[2];
	p->tty_nr = (unsigned)v[3];
	p->utime = (uint64_t)v[10];
	p->stime = (uint64_t)v[11];
	p->cutime = (uint64_t)MAX(v[12], 0);
	p->cstime = (uint64_t)MAX(v[13], 0);
	p->starttime = (uint64_t)v[18];
	return 0;
}

/* Reads and parses a stat file from its start; 0 or -errno (-ESRCH once
 * the process ended). */
static int proc_pread_stat(int fd, struct proc_info *p)
{
	char buf[PROC_STAT_MAX];
	ssize_t k;

	proc.stat_reads++;
	k = pread(fd, buf, sizeof(buf) - 1, 0);
	if (k < 0)
		return -errno;
	buf[k] = '\0';
	return proc_parse_stat(buf, (size_t)k, p);
}

/* The open stat file of pid from the previous scan, or -1. Pids come in
 * rising order from readdir; *cursor walks proc.fds along, closing the
 * files of processes that ended. */
static int proc_fd_take(pid_t pid, size_t *cursor)
{
	while (*cursor < proc.n_fds && proc.fds[*cursor].pid < pid)
		close(proc.fds[(*cursor)++].fd);
	if (*cursor < proc.n_fds && proc.fds[*cursor].pid == pid)
		return proc.fds[(*cursor)++].fd;
	return -1;
}

/* Reads /proc/<pid>/stat into *p, through a kept open file when keep is
 * set and there is room for one; 0 or -errno (the process ended, or
 * cannot be read). */
static int proc_read_stat(int dfd, const char *name, pid_t pid, int keep, size_t *cursor,
			  size_t *n_next, struct proc_info *p)
{
	char path[64];
	int fd = keep ? proc_fd_take(pid, cursor) : -1, r = -ESRCH;

	if (fd >= 0) {
		r = proc_pread_stat(fd, p);
		if (r < 0) {
			/* the kept file's process ended; the pid may be another's now */
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		snprintf(path, sizeof(path), "%s/stat", name);
		fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return -errno;
		r = proc_pread_stat(fd, p);
	}
	if (r < 0 || !keep || *n_next >= proc.fds_max) {
		close(fd);
		return r;
	}
	proc.fds_next[(*n_next)++] = (struct proc_fd){pid, fd};
	return 0;
}

/* Ends a scan: closes the files of processes that ended (those after
 * cursor), and the files kept in this scan become the list. */
static void proc_fds_commit(size_t cursor, size_t n_next)
{
	struct proc_fd *tmp = proc.fds;

	proc_fd_take(INT_MAX, &cursor);
	proc.fds = proc.fds_next;
	proc.fds_next = tmp;
	proc.n_fds = n_next;
}

/* Sets how many stat files may stay open: PROC_FDS_MAX, or half of what
 * RLIMIT_NOFILE leaves. */
static void proc_fds_setup(void)
{
	struct rlimit rl;

	if (proc.fds)
		return;
	proc.fds_max = PROC_FDS_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		proc.fds_max = MIN(proc.fds_max, (size_t)rl.rlim_cur / 2);
	proc.fds = xcalloc(proc.fds_max + 1, sizeof(struct proc_fd));
	proc.fds_next = xcalloc(proc.fds_max + 1, sizeof(struct proc_fd));
}

ssize_t proc_read_cmdline(pid_t pid, char *buf, size_t size)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	ssize_t k;

	if (size == 0)
		return -EINVAL;
	proc.cmdline_reads++;
	snprintf(path, sizeof(path), "%s/%d/cmdline", proc_root(), (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	k = read(fd, buf, size - 1);
	if (k < 0)
		return -errno;
	buf[k] = '\0';
	return k;
}

uint64_t proc_cmdline_reads(void)
{
	return proc.cmdline_reads;
}

uint64_t proc_stat_reads(void)
{
	return proc.stat_reads;
}

static int proc_fd_cmp(const void *a, const void *b)
{
	pid_t x = ((const struct proc_fd *)a)->pid, y = ((const struct proc_fd *)b)->pid;

	return (x > y) - (x < y);
}

int proc_stat_read(pid_t pid, struct proc_info *p)
{
	struct proc_fd key = {.pid = pid}, *kept = NULL;
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;

	if (proc.n_fds > 0)
		kept = bsearch(&key, proc.fds, proc.n_fds, sizeof(struct proc_fd), proc_fd_cmp);
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	if (kept) {
		/* the file stays open until the next scan closes it: a process
		 * that ended keeps failing here, and its pid, if reused, is
		 * another process's, which the caller tells by its start time */
		return proc_pread_stat(kept->fd, p);
	}
	snprintf(path, sizeof(path), "%s/%d/stat", proc_root(), (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	return proc_pread_stat(fd, p);
}

static int proc_cmp(const void *a, const void *b)
{
	pid_t x = ((const struct proc_info *)a)->pid, y = ((const struct proc_info *)b)->pid;

	return (x > y) - (x < y);
}

/* Scans /proc into proc.snap; 0 or -errno. */
static int proc_scan(void)
{
	struct dirent *de;
	int sorted = 1, dfd, r, err;
	size_t cursor = 0, n_next = 0;
	pid_t last = 0;

	if (!proc.dir) {
		proc.dir = opendir(proc_root());
		if (!proc.dir)
			return -errno;
	} else
		rewinddir(proc.dir);
	dfd = dirfd(proc.dir);
	proc_fds_setup();
	proc.snap.n = 0;
	for (;;) {
		struct proc_info *p;
		char *end;
		long pid;

		errno = 0;
		de = readdir(proc.dir);
		if (!de)
			break;
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		if (proc.snap.n == proc.n_alloc) {
			proc.n_alloc = proc.n_alloc ? proc.n_alloc * 2 : 256;
			proc.snap.procs =
			    xrealloc(proc.snap.procs, proc.n_alloc * sizeof(struct proc_info));
		}
		p = &proc.snap.procs[proc.snap.n];
		memset(p, 0, sizeof(*p));
		p->pid = (pid_t)pid;
		/* kept files are matched in rising pid order; others are read once */
		r = proc_read_stat(dfd, de->d_name, p->pid, p->pid > last, &cursor, &n_next, p);
		last = MAX(last, p->pid);
		if (r < 0)
			continue; /* ended meanwhile, or unreadable: not there */
		if (proc.snap.n > 0 && proc.snap.procs[proc.snap.n - 1].pid > p->pid)
			sorted = 0;
		proc.snap.n++;
	}
	err = errno;
	proc_fds_commit(cursor, n_next);
	if (err != 0) {
		closedir(proc.dir);
		proc.dir = NULL;
		return -err;
	}
	if (proc.snap.n == 0) {
		/* an empty /proc is not "no processes": it is not procfs */
		closedir(proc.dir);
		proc.dir = NULL;
		return -ENODATA;
	}
	if (!sorted)
		qsort(proc.snap.procs, proc.snap.n, sizeof(struct proc_info), proc_cmp);
	/* give memory back after a burst of processes ended */
	if (proc.n_alloc > PROC_SHRINK_MIN && proc.snap.n < proc.n_alloc / 4) {
		proc.n_alloc = MAX(proc.n_alloc / 2, (size_t)PROC_SHRINK_MIN);
		proc.snap.procs =
		    xrealloc(proc.snap.procs, proc.n_alloc * sizeof(struct proc_info));
	}
	return 0;
}

int proc_snapshot_get(const struct monitor_tick *t, const struct proc_snapshot **ret)
{
	int r;

	if (!proc.valid || proc.snap.seq != t->seq || proc.snap.now != t->now) {
		proc.valid = 0;
		r = proc_scan();
		if (r < 0)
			return r;
		proc.snap.seq = t->seq;
		proc.snap.now = t->now;
		proc.valid = 1;
	}
	*ret = &proc.snap;
	return 0;
}

const struct proc_info *proc_snapshot_find(const struct proc_snapshot *s, pid_t pid)
{
	struct proc_info key = {.pid = pid};

	return bsearch(&key, s->procs, s->n, sizeof(struct proc_info), proc_cmp);
}
