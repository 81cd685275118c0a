/* Small file helpers: bounded reads, atomic writes, secret files. */
#ifndef AGENTBOX_FILEIO_H
#define AGENTBOX_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Reads a whole file of at most max bytes, NUL-terminated. Returns 0,
 * -EFBIG when larger, or -errno. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* Writes data to path through a temporary file in the same directory,
 * fsync and rename, so readers see the old or the new file, never half. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* The same without fsync: readers still see the old or the new file, but
 * a crash may lose both. For runtime files (tmpfs) rewritten every tick. */
int write_file_replace(const char *path, const void *data, size_t size, mode_t mode);

/* Reads a secret: "name" (no slash) is a systemd credential in
 * $CREDENTIALS_DIRECTORY; a path must be a regular file owned by root or
 * by us with no group/other permission bits. Trailing newlines are cut.
 * On failure *ret_why (static text) says what is wrong. */
int read_secret(const char *name_or_path, char **ret, const char **ret_why);
/* The same, keeping every byte (binary keys), the size in *ret_size. */
int read_secret_bytes(const char *name_or_path, char **ret, size_t *ret_size, const char **ret_why);

/* mkdir -p with mode for the directories it creates. */
int mkdir_p(const char *path, mode_t mode);

#endif
