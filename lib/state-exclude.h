/* What a backup leaves out: one question the tree walk asks of every
 * entry, "is this excluded?", answered from three sources in this order:
 *
 *   1. state.exclude (config): globs, final; a glob with a '/' matches the
 *      whole path (fnmatch FNM_PATHNAME), one without the last component.
 *   2. .agentboxignore files in the directories walked (a subset of
 *      gitignore, see state-exclude.c): the deepest file's last matching
 *      line decides; "!pattern" keeps what the defaults would leave out.
 *   3. The defaults (state.exclude_defaults, on unless false): what a
 *      build or package manager makes again (node_modules/, .venv/,
 *      __pycache__/, ...) and directories tagged with a CACHEDIR.TAG
 *      (cargo's target/).
 *
 * An excluded directory is left out with everything below it. The walk is
 * depth first: the object keeps the ignore files of the directories on
 * the current path and reads each directory's file once, when the walk
 * first asks about an entry inside it. */
#ifndef AGENTBOX_STATE_EXCLUDE_H
#define AGENTBOX_STATE_EXCLUDE_H

#include <sys/stat.h>

#define STATE_IGNORE_FILE ".agentboxignore"
/* A larger ignore file is refused (the backup fails naming it), as is a
 * pattern with more than 16 '*'. */
#define STATE_IGNORE_FILE_MAX (64 * 1024)

struct state_exclude;

/* globs: state.exclude (may be NULL); defaults: state.exclude_defaults. */
struct state_exclude *state_exclude_new(char *const *globs, int defaults);
struct state_exclude *state_exclude_free(struct state_exclude *x);
static inline void state_exclude_freep(struct state_exclude **x)
{
	state_exclude_free(*x);
}

/* Is the entry path (absolute), named name in the directory dirfd, with
 * lstat st, left out of the backup? 1 yes, 0 no, -errno when an ignore
 * file cannot be read (too large, unreadable): a backup that silently
 * kept or dropped files against the user's file would be wrong either
 * way. dirfd AT_FDCWD marks a state path itself (no ignore files above
 * the state paths are read). *ret_error_path (when given) names the file
 * at fault. */
int state_exclude_match(struct state_exclude *x, int dirfd, const char *name, const char *path,
			const struct stat *st, char **ret_error_path);

/* state.exclude's rule alone (1: one of globs matches path). */
int state_exclude_globs_match(char *const *globs, const char *path);

/* Does one .agentboxignore pattern (as written, without "!") match the
 * path rel (relative to the ignore file's directory)? For the tests. */
int state_exclude_pattern_match(const char *pattern, const char *rel, int is_dir);

#endif
