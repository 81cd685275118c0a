/* The state archive: a pax tar stream compressed with zstd (libarchive),
 * written straight into a sink (the upload) and read straight from a
 * download, never through a temporary file.
 *
 * Entries are the state paths without their leading '/' ("home/agent/.claude/x").
 * Regular files, directories and symbolic links are stored; sockets, fifos
 * and devices are skipped with a log line. A file that changes while it is
 * read (size or mtime differ before and after, or it ends early) fails the
 * archive with -EAGAIN naming it: a torn file is never stored. */
#ifndef AGENTBOX_TARBALL_H
#define AGENTBOX_TARBALL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct state_exclude;

struct tarball_stats {
	uint64_t files;	      /* entries stored or extracted */
	uint64_t bytes;	      /* file content, uncompressed */
	uint64_t skipped;     /* sockets, fifos, devices */
	char tree_digest[65]; /* of paths, types, modes, owners, sizes, m/ctimes, inodes */
};

/* Who restored entries belong to: the workspace user. An entry keeps its
 * group only when it is owned by that user and the group is one of the
 * user's (gid or groups); any other entry becomes uid:gid. */
struct tarball_owner {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
};

/* Consumes compressed bytes; 0 or -errno (which then fails the archive). */
typedef int (*tarball_sink_fn)(const void *data, size_t size, void *userdata);

/* exclude (lib/state-exclude.h) decides what is left out; NULL: nothing. */

/* Walks the paths (as the archive would) and computes the tree digest, the
 * number of entries and the bytes of content, without reading any file:
 * the cheap "has anything changed" check. On error, *ret_error_path (when
 * given) names the file concerned (free it). */
int tarball_tree_digest(char *const *paths, struct state_exclude *exclude,
			struct tarball_stats *ret, char **ret_error_path);

struct stat;

/* One entry of a walk: dirfd and name reach it (AT_FDCWD and the full path
 * for a state path itself), path is its full path. A directory's entries
 * follow it (sorted, depth first) unless fn fails. */
typedef int (*tarball_walk_fn)(int dirfd, const char *name, const char *path,
			       const struct stat *st, void *userdata);

/* Walks the paths as the archive and the digest do (same excludes, same
 * order) and calls fn for each entry; its error ends the walk and is
 * returned, *ret_error_path (when given) naming the entry (free it). */
int tarball_walk(char *const *paths, struct state_exclude *exclude, tarball_walk_fn fn,
		 void *userdata, char **ret_error_path);

/* Archives paths into sink. level is zstd's (1-19). On -EAGAIN (a file
 * changed while read) or any other error, *ret_error_path (when given)
 * names the file concerned (free it). */
int tarball_create(char *const *paths, struct state_exclude *exclude, int level,
		   tarball_sink_fn sink, void *userdata, struct tarball_stats *ret,
		   char **ret_error_path);

/* Extracts the archive read from fd into the directory staging (entries
 * land at staging/<entry>). Set-user-ID and set-group-ID bits are never
 * restored, nor the sticky bit of a non-directory; owner NULL: entries
 * belong to the caller. Refuses, with -EPERM (hostile) or -EBADMSG
 * (corrupt) and a message in *ret_error, any entry that is absolute, has a
 * ".." component, goes through a symlink, is not a regular file, directory
 * or symlink, lies outside every one of the allowed paths, or declares
 * more bytes than the disk has free. The caller discards staging on error. */
int tarball_extract_fd(int fd, const char *staging, char *const *allowed,
		       const struct tarball_owner *owner, struct tarball_stats *ret,
		       char **ret_error);

/* rm -rf, not following symlinks, at any depth (relative to one directory
 * fd at a time, no PATH_MAX limit); a missing path is success. */
int rm_rf(const char *path);

#endif
