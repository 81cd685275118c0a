/* The files signal's path rules, shared with its tests.
 *
 * A path counts when it lies under a watch root (prefix on a component
 * boundary) and no exclude pattern covers it. Patterns are fnmatch globs
 * with FNM_PATHNAME ('*' does not cross '/'), and a pattern that matches a
 * directory covers everything below it:
 *   "/home/agent/.cache"  absolute: the path or one of its ancestors
 *   "node_modules", "*.o" no '/': any single component below the root
 *   "build/out"           relative: from the watch root down */
#ifndef AGENTBOX_MONITOR_FILES_H
#define AGENTBOX_MONITOR_FILES_H

#include <stddef.h>

struct signal_source;

/* The root of roots (NULL-terminated) that path lies under, or NULL. */
const char *files_watch_root(char *const *roots, const char *path);

/* 1 when one of patterns (NULL-terminated, may be NULL) covers path, which
 * lies under root; 0 otherwise. */
int files_path_excluded(char *const *patterns, const char *root, const char *path);

/* "fanotify" or "inotify" once init() chose; NULL before. For tests. */
const char *files_backend_name(const struct signal_source *s);

#endif
