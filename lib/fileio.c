/* File helpers; see fileio.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

#define SECRET_MAX (64 * 1024)

static int read_fd(int fd, size_t max, char **ret, size_t *ret_size)
{
	size_t size = 0, cap = 4096;
	_cleanup_free_ char *buf = xmalloc(cap);

	for (;;) {
		ssize_t n;

		if (size + 1 >= cap) {
			if (cap > max + 1)
				return -EFBIG;
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + size, cap - size - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		size += (size_t)n;
		if (size > max)
			return -EFBIG;
	}
	buf[size] = '\0';
	if (ret_size)
		*ret_size = size;
	*ret = TAKE_PTR(buf);
	return 0;
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return read_fd(fd, max, ret, ret_size);
}

static int write_file_replace_full(const char *path, const void *data, size_t size, mode_t mode,
				   int sync)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	_cleanup_close_ int fd = -1;
	const char *p = data;
	int r;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) /* umask must not widen or narrow it */
		goto fail;
	while (size > 0) {
		ssize_t n = write(fd, p, size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		size -= (size_t)n;
	}
	if (sync && fsync(fd) < 0 && errno != EINVAL)
		goto fail;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	r = -errno;
	unlink(tmp);
	return r;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode)
{
	return write_file_replace_full(path, data, size, mode, 1);
}

int write_file_replace(const char *path, const void *data, size_t size, mode_t mode)
{
	return write_file_replace_full(path, data, size, mode, 0);
}

/* read_secret() and read_secret_bytes(); trim: cut trailing line ends. */
static int read_secret_full(const char *name_or_path, int trim, char **ret, size_t *ret_size,
			    const char **ret_why)
{
	_cleanup_free_ char *credpath = NULL;
	_cleanup_close_ int fd = -1;
	char *buf = NULL;
	size_t size;
	struct stat st;
	int r, is_credential = 0;

	*ret_why = NULL;
	if (!strchr(name_or_path, '/')) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		if (!dir) {
			*ret_why = "names a systemd credential, but $CREDENTIALS_DIRECTORY is not set";
			return -ENOENT;
		}
		credpath = xasprintf("%s/%s", dir, name_or_path);
		name_or_path = credpath;
		is_credential = 1;
	}
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is then
	 * refused as not a regular file. */
	fd = open(name_or_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		*ret_why = r == -ELOOP ? "is a symbolic link" : "cannot be opened";
		return r;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		*ret_why = S_ISFIFO(st.st_mode)	 ? "is a FIFO, not a regular file"
			   : S_ISDIR(st.st_mode) ? "is a directory, not a regular file"
						 : "is not a regular file";
		return -EINVAL;
	}
	/* systemd makes credentials private itself; a plain file must be. */
	if (!is_credential) {
		if (st.st_mode & 0077) {
			*ret_why = "is readable by group or others (chmod 0600 it)";
			return -EPERM;
		}
		if (st.st_uid != 0 && st.st_uid != geteuid()) {
			*ret_why = "is owned by another user";
			return -EPERM;
		}
	}
	r = read_fd(fd, SECRET_MAX, &buf, &size);
	if (r < 0) {
		*ret_why = r == -EFBIG ? "is larger than 64 KiB" : "cannot be read";
		return r;
	}
	while (trim && size > 0 && (buf[size - 1] == '\n' || buf[size - 1] == '\r'))
		buf[--size] = '\0';
	*ret = buf;
	if (ret_size)
		*ret_size = size;
	return 0;
}

int read_secret(const char *name_or_path, char **ret, const char **ret_why)
{
	return read_secret_full(name_or_path, 1, ret, NULL, ret_why);
}

int read_secret_bytes(const char *name_or_path, char **ret, size_t *ret_size, const char **ret_why)
{
	return read_secret_full(name_or_path, 0, ret, ret_size, ret_why);
}

int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
