/* A snapshot of /proc shared by the processes and sessions signals: one
 * read of /proc/<pid>/stat per process, taken at most once per tick by
 * whichever signal asks first, and asked for only on discovery ticks
 * (monitor-discovery.h); between them proc_stat_read() polls single
 * processes. Processes of containers are in it too (the
 * host's /proc shows them, with host pids). */
#ifndef AGENTBOX_MONITOR_PROC_H
#define AGENTBOX_MONITOR_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "time-util.h"

struct monitor_tick;

#define PROC_COMM_MAX 64 /* kernel threads may show more than TASK_COMM_LEN */

/* One process (thread group) as /proc/<pid>/stat shows it. */
struct proc_info {
	pid_t pid;
	pid_t ppid;
	pid_t sid;
	unsigned tty_nr; /* controlling tty (kernel dev encoding); 0: none */
	char state;
	char comm[PROC_COMM_MAX];
	uint64_t utime, stime;	 /* clock ticks, all threads */
	uint64_t cutime, cstime; /* clock ticks of reaped children */
	uint64_t starttime;	 /* clock ticks after boot */
};

struct proc_snapshot {
	uint64_t seq; /* the tick it was taken at */
	usec_t now;   /* that tick's CLOCK_BOOTTIME */
	size_t n;
	struct proc_info *procs; /* sorted by pid */
};

/* Takes a reference on the shared snapshot (init() of a signal). */
void proc_snapshot_acquire(void);

/* Drops it (done() of a signal); the last one frees the memory. */
void proc_snapshot_release(void);

/* The snapshot of tick t: scans /proc the first time it is asked for
 * during t, then returns the same one. Returns 0, or -errno when /proc
 * cannot be read (then *ret is not set). */
int proc_snapshot_get(const struct monitor_tick *t, const struct proc_snapshot **ret);

/* The process pid in s, or NULL. */
const struct proc_info *proc_snapshot_find(const struct proc_snapshot *s, pid_t pid);

/* Reads /proc from another directory (tests: a missing one). NULL: /proc. */
void proc_snapshot_set_root(const char *root);

/* The directory snapshots are read from ("/proc" unless set). */
const char *proc_root(void);

/* Reads /proc/<pid>/cmdline (NUL-separated arguments, cut at size - 1
 * bytes, NUL-terminated); returns its length or -errno. */
ssize_t proc_read_cmdline(pid_t pid, char *buf, size_t size);

/* How many cmdline files were read so far (tests check the caching). */
uint64_t proc_cmdline_reads(void);

/* Reads /proc/<pid>/stat of one process into *p, through the file the
 * last scan kept open when there is one: between scans, the signals poll
 * the processes they know this way. Returns 0, or -errno (-ESRCH, -ENOENT:
 * the process ended; a pid read through a kept file never names a newer
 * process). */
int proc_stat_read(pid_t pid, struct proc_info *p);

/* How many stat files were read so far, by scans and proc_stat_read()
 * (tests check that ticks between scans read only the known ones). */
uint64_t proc_stat_reads(void);

/* Clock ticks (as in stat) in usec. */
usec_t proc_ticks_to_usec(uint64_t ticks);

/* Does name (a command name or one path component, len bytes) name an
 * agent: equal to one of names, or one followed by a character that is not
 * a letter or a digit ("claude-code", "aider.main"; not "claudette")?
 * Returns the index in names, or -1. */
int proc_name_match(const char *name, size_t len, char *const *names);

#endif
