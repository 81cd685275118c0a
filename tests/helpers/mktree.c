/* mktree DIR NFILES [PER_DIR [AGE_SECONDS]]: makes a tree of NFILES small
 * files under DIR (which must not exist) for the monitor benchmark, fast:
 * DIR/dNNN/dNNN/fNNN, PER_DIR files per leaf directory (default 100), each
 * file's mtime AGE_SECONDS in the past (default 7200), so a seed-style
 * "find -mmin -30" finds nothing and walks it all, as on an idle box. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"

/* Parses a positive decimal number; 0 when it is not one. */
static unsigned long parse_count(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0)
		return 0;
	return v;
}

/* Opens DIR/dA/dB, making what is missing; the fd, or -errno. */
static int leaf_open(int top, unsigned long a, unsigned long b)
{
	char name[32];
	_cleanup_close_ int mid = -1;
	int fd;

	snprintf(name, sizeof(name), "d%03lu", a);
	if (mkdirat(top, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	mid = openat(top, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mid < 0)
		return -errno;
	snprintf(name, sizeof(name), "d%03lu", b);
	if (mkdirat(mid, name, 0755) < 0)
		return -errno;
	fd = openat(mid, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int main(int argc, char **argv)
{
	unsigned long n, per_dir = 100, age = 7200;
	struct timespec old[2];
	_cleanup_close_ int top = -1, leaf = -1;
	char name[32];

	if (argc < 3 || argc > 5 || !(n = parse_count(argv[2])) ||
	    (argc > 3 && !(per_dir = parse_count(argv[3]))) ||
	    (argc > 4 && !(age = parse_count(argv[4])))) {
		fprintf(stderr, "usage: mktree DIR NFILES [PER_DIR [AGE_SECONDS]]\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) < 0 ||
	    (top = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "mktree: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &old[0]);
	old[0].tv_sec -= (time_t)age;
	old[1] = old[0];
	for (unsigned long i = 0; i < n; i++) {
		unsigned long l = i / per_dir;
		int fd;

		if (i % per_dir == 0) {
			if (leaf >= 0)
				close(leaf);
			leaf = leaf_open(top, l / 100, l % 100);
			if (leaf < 0) {
				fprintf(stderr, "mktree: directory %lu: %s\n", l, strerror(-leaf));
				return 1;
			}
		}
		snprintf(name, sizeof(name), "f%03lu", i % per_dir);
		fd = openat(leaf, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, "agentbox\n", 9) != 9 || futimens(fd, old) < 0) {
			fprintf(stderr, "mktree: file %lu: %s\n", i, strerror(errno));
			return 1;
		}
		close(fd);
	}
	return 0;
}
