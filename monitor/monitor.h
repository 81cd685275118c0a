/* agentbox-monitor: the shared types of its modules.
 *
 * A signal source (files, processes, sockets, sessions) is a module that
 * registers a struct signal_ops with SIGNAL_SOURCE_REGISTER(). The daemon
 * calls init() once, sample() every tick and dispatch() when the source's
 * fd is readable; the source records activity with signal_active() and
 * failures with signal_degrade(). A degraded source counts as active: a
 * broken check must never make a box look idle. */
#ifndef AGENTBOX_MONITOR_H
#define AGENTBOX_MONITOR_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "macro.h"
#include "time-util.h"

#define SIGNAL_DETAIL_MAX 256

/* One sampling tick. Times of activity are kept on CLOCK_BOOTTIME, which
 * neither jumps with NTP nor stops during suspend; convert realtime stamps
 * (file and tty times) with tick_from_realtime(). */
struct monitor_tick {
	uint64_t seq;    /* 1 for the first tick, then +1 */
	usec_t now;      /* CLOCK_BOOTTIME */
	usec_t realtime; /* CLOCK_REALTIME, read together with now */
	usec_t window;   /* time since the previous tick; CPU rates are over it */
};

struct signal_state {
	usec_t last_active; /* CLOCK_BOOTTIME of the latest activity; 0: none seen */
	char detail[SIGNAL_DETAIL_MAX]; /* what was active: a path, "claude (pid 12)", "port 22 from ..." */
	int degraded;
	char reason[SIGNAL_DETAIL_MAX]; /* why it is degraded */
};

struct signal_source;

struct signal_ops {
	const char *name; /* "files", "processes", "sockets", "sessions" */
	int order;        /* position in status output */
	/* Sets up; returns 0, or a negative errno after signal_degrade(). */
	int (*init)(struct signal_source *s);
	/* Optional: an fd to poll, or -1. */
	int (*fd)(struct signal_source *s);
	/* Optional: the fd is readable. */
	int (*dispatch)(struct signal_source *s, const struct monitor_tick *t);
	/* Every tick: look, and record activity. Returns 0 or negative errno
	 * (after signal_degrade()). */
	int (*sample)(struct signal_source *s, const struct monitor_tick *t);
	/* Releases what init() made; s->data included. */
	void (*done)(struct signal_source *s);
};

struct signal_source {
	const struct signal_ops *ops;
	const struct config *config;
	struct signal_state state;
	void *data; /* the module's own */
};

/* Registration, run before main() by a constructor in each module. */
void signal_source_register(const struct signal_ops *ops);
#define SIGNAL_SOURCE_REGISTER(ops)                                                                \
	__attribute__((constructor)) static void signal_register_##ops(void)                       \
	{                                                                                          \
		signal_source_register(&(ops));                                                    \
	}

/* The registered sources, sorted by order; *ret_n set to their count. */
const struct signal_ops *const *signal_source_list(size_t *ret_n);
const struct signal_ops *signal_source_find(const char *name);

/* Records activity at 'when' (CLOCK_BOOTTIME) with a short detail; an
 * older 'when' than the recorded one changes nothing. */
void signal_active(struct signal_source *s, usec_t when, const char *fmt, ...) _printf_(3, 4);

/* Marks the source degraded (logged once per distinct reason, with
 * MSGID_SIGNAL_DEGRADED); returns err (negative) for "return signal_degrade(...)". */
int signal_degrade(struct signal_source *s, int err, const char *fmt, ...) _printf_(3, 4);

/* Clears a degraded mark once the source works again (logged). */
void signal_recover(struct signal_source *s);

/* CLOCK_BOOTTIME value of a realtime stamp (usec), clamped to [0, t->now]. */
usec_t tick_from_realtime(const struct monitor_tick *t, usec_t realtime);

/* Realtime (unix usec) of a CLOCK_BOOTTIME stamp, past or future. */
usec_t tick_to_realtime(const struct monitor_tick *t, usec_t boottime);

/* Sets up a source for tests and the daemon: s->ops/config set, state zero. */
void signal_source_init(struct signal_source *s, const struct signal_ops *ops,
			const struct config *c);

/* monitor-wall.c: writes a message to every terminal (host and container
 * ptys, like wall). Returns the number of terminals reached. The sessions
 * signal must not take the tty time changes this causes as activity:
 * wall_caused() tells whether (dev, ino) was last written by us at
 * 'mtime_usec' (realtime usec of the tty's st_mtim) or earlier. */
int monitor_wall(const char *message);
int wall_caused(dev_t dev, ino_t ino, usec_t mtime_usec);

#endif
