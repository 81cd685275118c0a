/* Keepalive files; see monitor-keepalive.h. The daemon reads files any
 * local user may write, so every read is bounded, O_NOFOLLOW and of
 * regular files only. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "monitor-keepalive.h"

#define KEEPALIVE_FILE_MAX 512
#define KEEPALIVE_FILES_MAX 64

char *keepalive_dir(const struct config *c)
{
	return xasprintf("%s/keepalive.d", c->runtime_dir);
}

int keepalive_dir_create(const struct config *c)
{
	_cleanup_free_ char *dir = keepalive_dir(c);
	int r;

	r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	/* sticky: users may add and remove only their own files */
	if (chmod(dir, 01777) < 0)
		return -errno;
	return 0;
}

static int valid_holder(const char *name)
{
	size_t l = strlen(name);

	if (l == 0 || l > KEEPALIVE_NAME_MAX || name[0] == '.')
		return 0;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return 0;
	return 1;
}

/* Reads one keepalive file: its end (realtime usec) and reason. */
static int keepalive_read_one(int dirfd, const char *name, usec_t *ret_until, char *reason,
			      size_t reason_size)
{
	_cleanup_close_ int fd = -1;
	char buf[KEEPALIVE_FILE_MAX + 1], *nl;
	struct stat st;
	usec_t duration;
	ssize_t n;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADF;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	if (nl) {
		*nl = '\0';
		snprintf(reason, reason_size, "%.*s", (int)strcspn(nl + 1, "\n"), nl + 1);
		for (char *p = reason; *p; p++)
			if (!isprint((unsigned char)*p))
				*p = '?';
	} else
		reason[0] = '\0';
	if (parse_duration(buf, &duration) < 0)
		return -EINVAL;
	*ret_until = (usec_t)st.st_mtim.tv_sec * USEC_PER_SEC + (usec_t)st.st_mtim.tv_nsec / 1000 +
		     duration;
	return 0;
}

int keepalive_scan(const struct config *c, usec_t now, struct keepalive *ret)
{
	_cleanup_free_ char *path = keepalive_dir(c);
	struct dirent *de;
	DIR *d;
	int files = 0;

	memset(ret, 0, sizeof(*ret));
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) && files < KEEPALIVE_FILES_MAX) {
		char reason[KEEPALIVE_REASON_MAX + 1];
		usec_t until = 0;

		if (!valid_holder(de->d_name))
			continue; /* also skips ".", ".." and temporary files */
		if (strstr(de->d_name, ".tmp."))
			continue;
		files++;
		if (keepalive_read_one(dirfd(d), de->d_name, &until, reason, sizeof(reason)) < 0) {
			ret->n_invalid++;
			continue;
		}
		if (until <= now || until <= ret->until)
			continue;
		ret->until = until;
		snprintf(ret->holder, sizeof(ret->holder), "%.*s", KEEPALIVE_NAME_MAX, de->d_name);
		snprintf(ret->reason, sizeof(ret->reason), "%s", reason);
	}
	closedir(d);
	return 0;
}

int keepalive_set(const struct config *c, const char *name, usec_t duration, const char *reason)
{
	_cleanup_free_ char *dir = keepalive_dir(c), *path = NULL, *text = NULL;
	char buf[FORMAT_DURATION_MAX];

	if (!valid_holder(name))
		return -EINVAL;
	path = xasprintf("%s/%s", dir, name);
	text = xasprintf("%s\n%.*s\n", format_duration_exact(buf, sizeof(buf), duration),
			 KEEPALIVE_REASON_MAX, reason ? reason : "");
	return write_file_atomic(path, text, strlen(text), 0644);
}

int keepalive_clear(const struct config *c, const char *name)
{
	_cleanup_free_ char *dir = keepalive_dir(c), *path = NULL;

	if (!valid_holder(name))
		return -EINVAL;
	path = xasprintf("%s/%s", dir, name);
	if (unlink(path) < 0)
		return -errno;
	return 0;
}

int keepalive_clear_all(const struct config *c)
{
	_cleanup_free_ char *path = keepalive_dir(c);
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	closedir(d);
	return n;
}
