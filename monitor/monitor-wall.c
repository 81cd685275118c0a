/* Messages to every terminal, like wall(1), but reaching the ptys of the
 * workspace container too: they are found through the processes that hold
 * them (/proc/<pid>/fd/{0,1,2}), which works across mount namespaces where
 * utmp does not. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "monitor.h"

#define WALL_MAX_TTYS 256

struct wall_mark {
	dev_t dev;
	ino_t ino;
	usec_t mtime; /* realtime usec of st_mtim right after our write */
};

static struct wall_mark marks[WALL_MAX_TTYS];
static size_t n_marks;

static usec_t timespec_usec(const struct timespec *ts)
{
	return (usec_t)ts->tv_sec * USEC_PER_SEC + (usec_t)ts->tv_nsec / 1000;
}

/* Is st a terminal a person or an agent sits at: a pty slave or a VT? */
static int is_terminal(const struct stat *st)
{
	unsigned maj = major(st->st_rdev);

	if (!S_ISCHR(st->st_mode))
		return 0;
	return (maj >= 136 && maj <= 143) || (maj == 4 && minor(st->st_rdev) < 64);
}

static struct wall_mark *mark_find(dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < n_marks; i++)
		if (marks[i].dev == dev && marks[i].ino == ino)
			return &marks[i];
	return NULL;
}

static void mark_record(dev_t dev, ino_t ino, usec_t mtime)
{
	struct wall_mark *m = mark_find(dev, ino);

	if (!m) {
		if (n_marks == WALL_MAX_TTYS)
			return;
		m = &marks[n_marks++];
		m->dev = dev;
		m->ino = ino;
	}
	m->mtime = mtime;
}

int wall_caused(dev_t dev, ino_t ino, usec_t mtime_usec)
{
	struct wall_mark *m = mark_find(dev, ino);

	return m && mtime_usec <= m->mtime;
}

/* Writes to one terminal through the process's fd; 1 when written. */
static int wall_one(const char *fdpath, const char *text, size_t len)
{
	_cleanup_close_ int fd = open(fdpath, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || !is_terminal(&st))
		return 0;
	/* A full tty buffer (nobody reading) must not block the daemon. */
	if (write(fd, text, len) < 0)
		return 0;
	if (fstat(fd, &st) == 0)
		mark_record(st.st_dev, st.st_ino, timespec_usec(&st.st_mtim));
	return 1;
}

int monitor_wall(const char *message)
{
	struct { dev_t dev; ino_t ino; } seen[WALL_MAX_TTYS];
	size_t n_seen = 0;
	_cleanup_free_ char *text = NULL;
	DIR *d;
	struct dirent *de;
	int reached = 0;

	text = xasprintf("\r\n\aBroadcast message from agentbox-monitor:\r\n\r\n%s\r\n\r\n", message);
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d)) && n_seen < WALL_MAX_TTYS) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		for (int fdn = 0; fdn <= 2; fdn++) {
			char path[300];
			struct stat st;
			size_t i;

			snprintf(path, sizeof(path), "/proc/%s/fd/%d", de->d_name, fdn);
			if (stat(path, &st) < 0 || !is_terminal(&st))
				continue;
			for (i = 0; i < n_seen; i++)
				if (seen[i].dev == st.st_dev && seen[i].ino == st.st_ino)
					break;
			if (i < n_seen)
				continue;
			seen[n_seen].dev = st.st_dev;
			seen[n_seen].ino = st.st_ino;
			n_seen++;
			reached += wall_one(path, text, strlen(text));
			break;
		}
	}
	closedir(d);
	return reached;
}
