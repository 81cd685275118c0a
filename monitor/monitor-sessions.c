/* The sessions signal: terminal input and output. The kernel keeps the
 * time of the last input read from a tty in its st_atime and of the last
 * output written to it in st_mtime (rounded to whole seconds, and moved only
 * when the new time falls into another 8-second block). A tty whose times
 * moved since the previous tick is activity, at the time it shows.
 *
 * The ttys are found through the processes that have a controlling tty
 * (tty_nr in the shared /proc snapshot): per (tty, session) one of them is
 * asked for its /proc/<pid>/fd/{0,1,2}, and stat() follows that link to the
 * pty. This reaches the ptys of the workspace container (tmux panes) too,
 * where utmp and logind do not; logind (sd-login), when present, only
 * names the session in the detail. Output the monitor's own wall messages
 * caused (wall_caused()) is not activity.
 *
 * The ttys in use are found so only when a discovery is due
 * (monitor-discovery.h). On the ticks between, each tty found is stat()ed
 * again through the same /proc/<pid>/fd/<n> link that found it, and nothing
 * else is read; a tty whose link is gone (the process ended or closed it)
 * is dropped until the next discovery finds it again. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <systemd/sd-login.h>

#include "monitor-discovery.h"
#include "monitor-proc.h"
#include "monitor.h"

#define SESSIONS_TTYS_MAX 4096
#define SESSIONS_TRIES 3 /* processes of one session asked for their tty */
/* tty times are whole seconds: a change since the previous tick may show
 * up to a second before it */
#define SESSIONS_SLACK (2 * USEC_PER_SEC)

#define SESSIONS_WHO_MAX 128

/* A tty we found, with its times as we last saw them (realtime usec), and
 * how the last discovery found it. */
struct tty_seen {
	dev_t dev;
	ino_t ino;
	usec_t atime, mtime;
	uint64_t seen; /* tick seq that found it last */
	pid_t pid;     /* /proc/<pid>/fd/<fd> links to it */
	int fd;
	int agent; /* who names an agent */
	char who[SESSIONS_WHO_MAX];
};

/* A process with a controlling tty, for grouping by (tty, session). */
struct tty_proc {
	unsigned tty_nr;
	pid_t sid;
	pid_t pid;
	size_t idx; /* in the snapshot */
};

/* The activity of one tick: the newest change. */
struct tty_event {
	usec_t when; /* realtime usec */
	int input;
	dev_t dev;
	dev_t rdev;
	int agent; /* who names an agent */
	char who[SESSIONS_WHO_MAX];
};

struct sessions {
	struct tty_seen *ttys;
	size_t n_ttys, n_ttys_alloc;
	struct tty_proc *procs;
	size_t n_procs_alloc;
	dev_t host_pts_dev;    /* st_dev of our /dev/pts; 0: unknown */
	usec_t prev_now;       /* CLOCK_BOOTTIME of the previous sample */
	usec_t last_discovery; /* CLOCK_BOOTTIME of the last /proc scan; 0: none */
};

static usec_t timespec_usec(const struct timespec *ts)
{
	return (usec_t)ts->tv_sec * USEC_PER_SEC + (usec_t)ts->tv_nsec / 1000;
}

/* Is st a terminal a person or an agent sits at: a pty slave or a VT? */
static int is_terminal(const struct stat *st)
{
	unsigned maj = major(st->st_rdev);

	if (!S_ISCHR(st->st_mode))
		return 0;
	return (maj >= 136 && maj <= 143) || (maj == 4 && minor(st->st_rdev) < 64);
}

/* "pts/3" or "tty2" for a terminal device number. */
static void tty_name(dev_t rdev, char *buf, size_t size)
{
	unsigned maj = major(rdev), min = minor(rdev);

	if (maj >= 136 && maj <= 143)
		snprintf(buf, size, "pts/%u", (maj - 136) * 256 + min);
	else
		snprintf(buf, size, "tty%u", min);
}

static int tty_proc_cmp(const void *a, const void *b)
{
	const struct tty_proc *x = a, *y = b;

	if (x->tty_nr != y->tty_nr)
		return x->tty_nr < y->tty_nr ? -1 : 1;
	if (x->sid != y->sid)
		return x->sid < y->sid ? -1 : 1;
	/* the session leader (lowest pid, usually) first */
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* stat() of /proc/<pid>/fd/<fd> when it is a terminal; 0 or -errno. */
static int stat_tty_fd(pid_t pid, int fd, struct stat *st)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%d/fd/%d", proc_root(), (int)pid, fd);
	if (stat(path, st) < 0)
		return -errno;
	return is_terminal(st) ? 0 : -ENOTTY;
}

/* The terminal on fd 0, 1 or 2 of pid: that fd, with *st set, or -ENOTTY. */
static int stat_tty_of(pid_t pid, struct stat *st)
{
	for (int fd = 0; fd <= 2; fd++)
		if (stat_tty_fd(pid, fd, st) == 0)
			return fd;
	return -ENOTTY;
}

static struct tty_seen *sessions_find(struct sessions *ss, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < ss->n_ttys; i++)
		if (ss->ttys[i].dev == dev && ss->ttys[i].ino == ino)
			return &ss->ttys[i];
	return NULL;
}

/* Names who sits at a tty for the detail: an agent of the session (then
 * ts->agent is set), else the session leader's command. */
static void sessions_who(const struct signal_source *s, const struct proc_snapshot *snap,
			 const struct tty_proc *g, size_t n, struct tty_seen *ts)
{
	char *const *names = s->config->idle_agent_names;
	const struct proc_info *leader = &snap->procs[g[0].idx];

	for (size_t i = 0; i < n; i++) {
		const struct proc_info *q = &snap->procs[g[i].idx];
		int a = proc_name_match(q->comm, strlen(q->comm), names);

		if (a >= 0) {
			snprintf(ts->who, sizeof(ts->who), "%s", names[a]);
			ts->agent = 1;
			return;
		}
		if (q->pid == q->sid)
			leader = q;
	}
	snprintf(ts->who, sizeof(ts->who), "%s", leader->comm);
	ts->agent = 0;
}

/* Looks a host tty up in logind: "session 3, uid 1000"; 0 when found. */
static int sessions_logind(const char *tty, char *buf, size_t size)
{
	char **list = NULL;
	int n, r = -ENOENT;

	n = sd_get_sessions(&list);
	if (n < 0)
		return n; /* no logind: not used */
	for (int i = 0; i < n; i++) {
		char *t = NULL;
		uid_t uid;

		if (r < 0 && sd_session_get_tty(list[i], &t) >= 0 && t && streq(t, tty)) {
			char *type = NULL;

			if (sd_session_get_uid(list[i], &uid) >= 0) {
				(void)sd_session_get_type(list[i], &type);
				snprintf(buf, size, "session %s, uid %u%s%s", list[i],
					 (unsigned)uid, type ? ", " : "", strempty(type));
				r = 0;
			}
			free(type);
		}
		free(t);
		free(list[i]);
	}
	free(list);
	return r;
}

/* Compares one tty's times with what we saw; records a change newer than
 * *ev in it and returns 1, else 0 (-1: already looked at in this tick, or
 * no room); *ret_ts is set to the tty's entry unless -1. A known tty's time
 * counts when it changed to a time since 'recent' (realtime usec: the
 * previous tick), so times set back by hand do not count, and times left
 * ahead by a clock stepped back do not hide new activity. A tty seen for
 * the first time shows its latest time. */
static int sessions_check(struct sessions *ss, const struct stat *st, uint64_t seq, usec_t recent,
			  struct tty_event *ev, struct tty_seen **ret_ts)
{
	struct tty_seen *ts = sessions_find(ss, st->st_dev, st->st_ino);
	usec_t atime = timespec_usec(&st->st_atim), mtime = timespec_usec(&st->st_mtim);
	usec_t input = 0, output = 0;

	*ret_ts = NULL;
	if (!ts) {
		if (ss->n_ttys == SESSIONS_TTYS_MAX)
			return -1;
		if (ss->n_ttys == ss->n_ttys_alloc) {
			ss->n_ttys_alloc = ss->n_ttys_alloc ? ss->n_ttys_alloc * 2 : 16;
			ss->ttys = xrealloc(ss->ttys, ss->n_ttys_alloc * sizeof(struct tty_seen));
		}
		ts = &ss->ttys[ss->n_ttys++];
		*ts = (struct tty_seen){.dev = st->st_dev, .ino = st->st_ino};
		recent = 0;
	} else if (ts->seen == seq)
		return -1; /* another session on the same tty: done */
	ts->seen = seq;
	*ret_ts = ts;
	if (atime != ts->atime && atime >= recent)
		input = atime;
	if (mtime != ts->mtime && mtime >= recent && !wall_caused(st->st_dev, st->st_ino, mtime))
		output = mtime;
	ts->atime = atime;
	ts->mtime = mtime;
	if (MAX(input, output) <= ev->when)
		return 0;
	ev->when = MAX(input, output);
	ev->input = input > output;
	ev->dev = st->st_dev;
	ev->rdev = st->st_rdev;
	return 1;
}

static int sessions_init(struct signal_source *s)
{
	struct sessions *ss = xcalloc(1, sizeof(struct sessions));
	struct stat st;

	if (stat("/dev/pts", &st) == 0)
		ss->host_pts_dev = st.st_dev;
	s->data = ss;
	proc_snapshot_acquire();
	return 0;
}

/* Names in ev who sits at the tty, as the last discovery found it. */
static void sessions_event_who(struct tty_event *ev, const struct tty_seen *ts)
{
	ev->agent = ts->agent;
	memcpy(ev->who, ts->who, sizeof(ev->who));
}

/* A discovery: finds the ttys in use through the /proc snapshot and checks
 * each; 0 or -errno (after signal_degrade()). */
static int sessions_discover(struct signal_source *s, const struct monitor_tick *t, usec_t recent,
			     struct tty_event *ev)
{
	struct sessions *ss = s->data;
	const struct proc_snapshot *snap;
	size_t n = 0, k = 0;
	int r;

	r = proc_snapshot_get(t, &snap);
	if (r < 0)
		return signal_degrade(s, r, "cannot read %s: %s", proc_root(), strerror(-r));
	signal_recover(s);
	if (ss->n_procs_alloc < snap->n) {
		ss->n_procs_alloc = MAX(snap->n, ss->n_procs_alloc * 2);
		ss->procs = xrealloc(ss->procs, ss->n_procs_alloc * sizeof(struct tty_proc));
	}
	for (size_t i = 0; i < snap->n; i++)
		if (snap->procs[i].tty_nr != 0)
			ss->procs[n++] = (struct tty_proc){
			    snap->procs[i].tty_nr, snap->procs[i].sid, snap->procs[i].pid, i};
	qsort(ss->procs, n, sizeof(struct tty_proc), tty_proc_cmp);

	/* one (tty, session) group at a time */
	for (size_t g = 0; g < n; g = k) {
		struct stat st;

		for (k = g + 1; k < n && ss->procs[k].tty_nr == ss->procs[g].tty_nr &&
				ss->procs[k].sid == ss->procs[g].sid;
		     k++)
			;
		for (size_t i = g; i < k && i < g + SESSIONS_TRIES; i++) {
			struct tty_seen *ts;
			int fd = stat_tty_of(ss->procs[i].pid, &st);

			if (fd < 0)
				continue;
			r = sessions_check(ss, &st, t->seq, recent, ev, &ts);
			if (ts) {
				ts->pid = ss->procs[i].pid;
				ts->fd = fd;
				sessions_who(s, snap, &ss->procs[g], k - g, ts);
				if (r > 0)
					sessions_event_who(ev, ts);
			}
			break;
		}
	}
	ss->last_discovery = t->now;
	return 0;
}

/* Between discoveries: stat()s each known tty through the link that found
 * it; a tty no longer reached that way is not marked seen (dropped). */
static void sessions_poll(struct sessions *ss, const struct monitor_tick *t, usec_t recent,
			  struct tty_event *ev)
{
	for (size_t i = 0; i < ss->n_ttys; i++) {
		struct tty_seen *ts;
		struct stat st;

		if (stat_tty_fd(ss->ttys[i].pid, ss->ttys[i].fd, &st) < 0 ||
		    st.st_dev != ss->ttys[i].dev || st.st_ino != ss->ttys[i].ino)
			continue;
		if (sessions_check(ss, &st, t->seq, recent, ev, &ts) > 0)
			sessions_event_who(ev, ts);
	}
}

static int sessions_sample(struct signal_source *s, const struct monitor_tick *t)
{
	struct sessions *ss = s->data;
	struct tty_event ev = {0};
	usec_t elapsed, recent;
	size_t k;
	int r;

	/* the previous tick on the realtime clock as it reads now */
	elapsed = ss->prev_now > 0 && t->now > ss->prev_now ? t->now - ss->prev_now : 0;
	recent =
	    t->realtime > elapsed + SESSIONS_SLACK ? t->realtime - elapsed - SESSIONS_SLACK : 0;
	if (monitor_discovery_due(s->config, ss->last_discovery, t)) {
		r = sessions_discover(s, t, recent, &ev);
		if (r < 0)
			return r;
	} else
		sessions_poll(ss, t, recent, &ev);
	ss->prev_now = t->now;

	/* forget ttys nobody holds any more */
	k = 0;
	for (size_t i = 0; i < ss->n_ttys; i++)
		if (ss->ttys[i].seen == t->seq)
			ss->ttys[k++] = ss->ttys[i];
	ss->n_ttys = k;

	if (ev.when > 0) {
		char name[32];
		int container =
		    ss->host_pts_dev != 0 && major(ev.rdev) != 4 && ev.dev != ss->host_pts_dev;
		usec_t when = tick_from_realtime(t, ev.when);

		tty_name(ev.rdev, name, sizeof(name));
		/* logind names a host session with no agent; without logind
		 * the command name stays */
		if (!container && !ev.agent)
			(void)sessions_logind(name, ev.who, sizeof(ev.who));
		if (when > 0)
			signal_active(s, when, "%s%s (%s) %s", name,
				      container ? " in container" : "", ev.who,
				      ev.input ? "input" : "output");
	}
	return 0;
}

static void sessions_done(struct signal_source *s)
{
	struct sessions *ss = s->data;

	if (!ss)
		return;
	free(ss->ttys);
	free(ss->procs);
	free(ss);
	s->data = NULL;
	proc_snapshot_release();
}

static const struct signal_ops sessions_ops = {
    .name = "sessions",
    .order = 40,
    .init = sessions_init,
    .sample = sessions_sample,
    .done = sessions_done,
};

SIGNAL_SOURCE_REGISTER(sessions_ops);
