/* Keepalives: files in <runtime_dir>/keepalive.d/, one per holder (the
 * user who ran "agentbox keepalive", or any name a script chooses). The
 * first line is a duration counted from the file's mtime ("2h"); an
 * optional second line says why. The directory is sticky and world-
 * writable so that the workspace user can hold the box without root:
 *   echo 2h > /run/agentbox/keepalive.d/build */
#ifndef AGENTBOX_MONITOR_KEEPALIVE_H
#define AGENTBOX_MONITOR_KEEPALIVE_H

#include <stddef.h>

#include "config.h"
#include "time-util.h"

#define KEEPALIVE_NAME_MAX 64
#define KEEPALIVE_REASON_MAX 200

struct keepalive {
	usec_t until; /* realtime usec; 0: none */
	char holder[KEEPALIVE_NAME_MAX + 1];
	char reason[KEEPALIVE_REASON_MAX + 1];
	int n_invalid; /* files that could not be read or parsed (ignored) */
};

/* "<runtime_dir>/keepalive.d" (caller frees). */
char *keepalive_dir(const struct config *c);

/* Creates the directory, mode 1777. */
int keepalive_dir_create(const struct config *c);

/* The latest-ending keepalive still in force at realtime 'now'. */
int keepalive_scan(const struct config *c, usec_t now, struct keepalive *ret);

/* Writes or removes the holder's file. name: [A-Za-z0-9_.-]. */
int keepalive_set(const struct config *c, const char *name, usec_t duration, const char *reason);
int keepalive_clear(const struct config *c, const char *name);
/* Removes every keepalive file; returns the number removed. */
int keepalive_clear_all(const struct config *c);

#endif
