/* The processes signal: an agent (idle.agent_names) counts as activity
 * while it, with everything below it, uses more CPU than
 * idle.cpu_threshold percent of one core over the sampling window. An
 * agent waiting at its prompt uses none, so it does not keep the box up.
 *
 * An agent is a process whose command name is one of the names (or starts
 * with one followed by a non-alphanumeric: "codex-x86_64-un"), or an
 * interpreter (node, bun, deno, python) whose argv names one: argv[0]
 * ("exec -a claude node ...") or its first non-option argument (the
 * second after "run", "x" or "exec" of deno and bun), taken as a path
 * whose components after the last "node_modules" (or else its last two
 * components) name the agent
 * (".../node_modules/@anthropic-ai/claude-code/cli.js", "/usr/bin/aider"),
 * or the module of "python -m aider". The cmdline of an interpreter is
 * read once per (pid, start time, comm).
 *
 * The CPU of an agent is the sum of utime + stime + cutime + cstime over
 * the agent and its live descendants: a child reaped by its parent moves
 * its time into the parent's cutime, so short-lived compilers count. The
 * rate is the growth of that sum since the previous tick; an agent started
 * since the previous discovery counts all of it.
 *
 * Discover rarely, poll what is known (monitor-discovery.h): the whole of
 * /proc is read (the shared snapshot) only when a discovery is due; it
 * finds the agents and their descendants ("members"). On the ticks between,
 * only the stat files of the members are read again: a member that ended
 * is dropped (its CPU went into its parent's cutime when it was reaped),
 * and processes started since the discovery are found, with all their CPU
 * so far, by the next one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "monitor-discovery.h"
#include "monitor-proc.h"
#include "monitor-processes-internal.h"
#include "monitor.h"

#define CMDLINE_MAX 4096

/* One process we remember between ticks: an interpreter (whose cmdline
 * was read) or an agent (whose CPU we compare). */
struct track {
	pid_t pid;
	uint64_t starttime;
	char comm[PROC_COMM_MAX]; /* the name it was classified under */
	int agent;		  /* index in idle_agent_names, or -1 */
	uint64_t cpu;		  /* subtree clock ticks at the last sample */
	size_t first, n_members;  /* in members: the agent, then its descendants */
};

/* A process counted for an agent: the agent itself or a descendant, as the
 * last discovery found them; pid 0 once it ended. */
struct member {
	pid_t pid;
	uint64_t starttime;
};

struct processes {
	struct track *tracks, *next; /* sorted by pid; swapped every discovery */
	size_t n_tracks, n_alloc;
	struct member *members, *members_next; /* swapped every discovery */
	size_t n_members, n_members_next, members_alloc, members_next_alloc;
	usec_t prev_now;       /* CLOCK_BOOTTIME of the previous sample; 0: none */
	usec_t last_discovery; /* CLOCK_BOOTTIME of the last /proc scan; 0: none */
	/* per-tick scratch, as large as the snapshot */
	int *first_child, *next_sibling, *stack;
	unsigned *visited;
	unsigned visit_gen;
	size_t n_scratch;
};

/* Is comm an interpreter whose script names the program? */
static int is_interpreter(const char *comm)
{
	return streq(comm, "node") || streq(comm, "nodejs") || streq(comm, "bun") ||
	       streq(comm, "deno") || startswith(comm, "python");
}

/* Does a path name an agent (see the top)? Returns its index or -1. */
static int path_match(const char *path, char *const *names)
{
	const char *comp[64];
	size_t len[64], n = 0, first = 0;
	const char *p = path;

	while (*p && n < ELEMENTSOF(comp)) {
		size_t l = strcspn(p, "/");

		if (l > 0) {
			comp[n] = p;
			len[n] = l;
			if (l == 12 && memcmp(p, "node_modules", 12) == 0)
				first = n + 1;
			n++;
		}
		p += l;
		p += strspn(p, "/");
	}
	if (first == 0)
		first = n > 2 ? n - 2 : 0;
	for (size_t i = first; i < n; i++) {
		int a = proc_name_match(comp[i], len[i], names);

		if (a >= 0)
			return a;
	}
	return -1;
}

/* Classifies an interpreter by its argv (see the top); index or -1. */
int argv_match(const char *cmdline, size_t size, char *const *names)
{
	const char *arg = cmdline, *end = cmdline + size;
	int n_args = 0, module_next = 0, more = 0;

	if (size == 0)
		return -1;
	for (int i = 0; arg < end && n_args <= more; i++, arg += strlen(arg) + 1) {
		int a = -1;

		if (i == 0)
			a = path_match(arg, names);
		else if (module_next) {
			a = proc_name_match(arg, strlen(arg), names);
			module_next = 0;
			n_args++;
		} else if (arg[0] == '-')
			module_next = streq(arg, "-m");
		else {
			a = path_match(arg, names);
			/* "deno run x.ts", "bun x pkg": the script comes next */
			if (n_args++ == 0 &&
			    (streq(arg, "run") || streq(arg, "x") || streq(arg, "exec")))
				more = 1;
		}
		if (a >= 0)
			return a;
	}
	return -1;
}

/* Reads the cmdline of an interpreter; index of the agent it runs or -1. */
static int cmdline_match(pid_t pid, char *const *names)
{
	_cleanup_free_ char *buf = xmalloc(CMDLINE_MAX);
	ssize_t k = proc_read_cmdline(pid, buf, CMDLINE_MAX);

	if (k <= 0)
		return -1; /* ended, or a kernel thread */
	return argv_match(buf, (size_t)k, names);
}

/* Makes room for n entries in the per-tick arrays. */
static void processes_reserve(struct processes *p, size_t n)
{
	if (p->n_alloc < n) {
		p->n_alloc = MAX(n, p->n_alloc * 2);
		p->tracks = xrealloc(p->tracks, p->n_alloc * sizeof(struct track));
		p->next = xrealloc(p->next, p->n_alloc * sizeof(struct track));
	}
	if (p->n_scratch < n) {
		p->n_scratch = MAX(n, p->n_scratch * 2);
		p->first_child = xrealloc(p->first_child, p->n_scratch * sizeof(int));
		p->next_sibling = xrealloc(p->next_sibling, p->n_scratch * sizeof(int));
		p->stack = xrealloc(p->stack, p->n_scratch * sizeof(int));
		p->visited = xrealloc(p->visited, p->n_scratch * sizeof(unsigned));
		memset(p->visited, 0, p->n_scratch * sizeof(unsigned));
		p->visit_gen = 0;
	}
}

/* Links every process to its parent: first_child/next_sibling lists. */
static void processes_link(struct processes *p, const struct proc_snapshot *snap)
{
	for (size_t i = 0; i < snap->n; i++)
		p->first_child[i] = -1;
	for (size_t i = 0; i < snap->n; i++) {
		const struct proc_info *parent = proc_snapshot_find(snap, snap->procs[i].ppid);
		size_t pi;

		p->next_sibling[i] = -1;
		if (!parent || parent == &snap->procs[i])
			continue;
		pi = (size_t)(parent - snap->procs);
		p->next_sibling[i] = p->first_child[pi];
		p->first_child[pi] = (int)i;
	}
}

/* Adds a member for the next tracks. */
static void processes_add_member(struct processes *p, const struct proc_info *q)
{
	if (p->n_members_next == p->members_next_alloc) {
		p->members_next_alloc = MAX((size_t)16, p->members_next_alloc * 2);
		p->members_next =
		    xrealloc(p->members_next, p->members_next_alloc * sizeof(struct member));
	}
	p->members_next[p->n_members_next++] = (struct member){q->pid, q->starttime};
}

/* CPU clock ticks of process i and all its descendants, reaped ones
 * included; each of them is added as a member. */
static uint64_t processes_subtree_cpu(struct processes *p, const struct proc_snapshot *snap,
				      size_t i)
{
	uint64_t sum = 0;
	size_t top = 0;

	if (++p->visit_gen == 0) {
		memset(p->visited, 0, p->n_scratch * sizeof(unsigned));
		p->visit_gen = 1;
	}
	p->stack[top++] = (int)i;
	p->visited[i] = p->visit_gen;
	while (top > 0) {
		const struct proc_info *q = &snap->procs[p->stack[--top]];

		sum += q->utime + q->stime + q->cutime + q->cstime;
		processes_add_member(p, q);
		/* a snapshot is not atomic: a reused pid could close a loop */
		for (int c = p->first_child[q - snap->procs]; c >= 0; c = p->next_sibling[c]) {
			if (p->visited[c] == p->visit_gen)
				continue;
			p->visited[c] = p->visit_gen;
			p->stack[top++] = c;
		}
	}
	return sum;
}

static int processes_init(struct signal_source *s)
{
	s->data = xcalloc(1, sizeof(struct processes));
	proc_snapshot_acquire();
	return 0;
}

/* Keeps the busiest agent over the threshold in *best. */
static void processes_rate(const struct signal_source *s, const struct track *a, uint64_t delta,
			   usec_t window, const struct track **best, double *best_pct)
{
	double pct;

	if (delta == 0 || window == 0)
		return;
	pct = 100.0 * (double)proc_ticks_to_usec(delta) / (double)window;
	if (pct > s->config->idle_cpu_threshold && pct > *best_pct) {
		*best_pct = pct;
		*best = a;
	}
}

/* A discovery: the whole /proc, merged with the tracks of the previous
 * one. Returns 0 or -errno (after signal_degrade()). */
static int processes_discover(struct signal_source *s, const struct monitor_tick *t, usec_t window,
			      const struct track **best, double *best_pct)
{
	struct processes *p = s->data;
	char *const *names = s->config->idle_agent_names;
	const struct proc_snapshot *snap;
	struct track *swap;
	struct member *mswap;
	size_t j = 0, n_next = 0;
	int r;

	r = proc_snapshot_get(t, &snap);
	if (r < 0)
		return signal_degrade(s, r, "cannot read %s: %s", proc_root(), strerror(-r));
	signal_recover(s);
	processes_reserve(p, snap->n);
	processes_link(p, snap);
	p->n_members_next = 0;

	/* merge the snapshot with the tracks, both by pid */
	for (size_t i = 0; i < snap->n; i++) {
		const struct proc_info *q = &snap->procs[i];
		const struct track *old = NULL;
		struct track *nt;
		uint64_t delta = 0;
		int agent;

		while (j < p->n_tracks && p->tracks[j].pid < q->pid)
			j++;
		if (j < p->n_tracks && p->tracks[j].pid == q->pid &&
		    p->tracks[j].starttime == q->starttime && streq(p->tracks[j].comm, q->comm))
			old = &p->tracks[j];

		agent = proc_name_match(q->comm, strlen(q->comm), names);
		if (agent < 0 && is_interpreter(q->comm))
			agent = old ? old->agent : cmdline_match(q->pid, names);
		else if (agent < 0)
			continue;

		nt = &p->next[n_next++];
		nt->pid = q->pid;
		nt->starttime = q->starttime;
		memcpy(nt->comm, q->comm, sizeof(nt->comm));
		nt->agent = agent;
		nt->cpu = 0;
		nt->first = p->n_members_next;
		nt->n_members = 0;
		if (agent < 0)
			continue;
		nt->cpu = processes_subtree_cpu(p, snap, i);
		nt->n_members = p->n_members_next - nt->first;
		if (old && old->agent >= 0)
			delta = nt->cpu > old->cpu ? nt->cpu - old->cpu : 0;
		else if (!old && proc_ticks_to_usec(q->starttime + 1) > p->last_discovery)
			delta = nt->cpu; /* started since the previous discovery (stat
					  * rounds its start down to a clock tick) */
		processes_rate(s, nt, delta, window, best, best_pct);
	}

	/* the new tracks replace the old: ended processes are gone */
	swap = p->tracks;
	p->tracks = p->next;
	p->next = swap;
	p->n_tracks = n_next;
	mswap = p->members;
	p->members = p->members_next;
	p->members_next = mswap;
	n_next = p->members_alloc;
	p->members_alloc = p->members_next_alloc;
	p->members_next_alloc = n_next;
	p->n_members = p->n_members_next;
	p->last_discovery = t->now;
	return 0;
}

/* Between discoveries: reads the stat files of the known agents and their
 * known descendants only. */
static void processes_poll(struct signal_source *s, usec_t window, const struct track **best,
			   double *best_pct)
{
	struct processes *p = s->data;

	for (size_t i = 0; i < p->n_tracks; i++) {
		struct track *a = &p->tracks[i];
		struct member *m = p->members + a->first;
		struct proc_info q;
		uint64_t cpu;

		if (a->agent < 0 || a->n_members == 0)
			continue;
		/* the same process by pid and start time; a new command name
		 * (exec) is classified again by the next discovery */
		if (proc_stat_read(a->pid, &q) < 0 || q.starttime != a->starttime) {
			a->n_members = 0; /* ended */
			continue;
		}
		cpu = q.utime + q.stime + q.cutime + q.cstime;
		for (size_t k = 1; k < a->n_members; k++) {
			if (m[k].pid == 0)
				continue;
			if (proc_stat_read(m[k].pid, &q) < 0 || q.starttime != m[k].starttime) {
				m[k].pid = 0; /* ended: reaped into its parent's cutime */
				continue;
			}
			cpu += q.utime + q.stime + q.cutime + q.cstime;
		}
		processes_rate(s, a, cpu > a->cpu ? cpu - a->cpu : 0, window, best, best_pct);
		a->cpu = cpu;
	}
}

static int processes_sample(struct signal_source *s, const struct monitor_tick *t)
{
	struct processes *p = s->data;
	const struct track *best = NULL;
	double best_pct = 0;
	usec_t window;
	int r;

	/* the first sample only sets the baseline */
	window = p->prev_now > 0 && t->now > p->prev_now ? t->now - p->prev_now : 0;
	if (monitor_discovery_due(s->config, p->last_discovery, t)) {
		r = processes_discover(s, t, window, &best, &best_pct);
		if (r < 0)
			return r;
	} else
		processes_poll(s, window, &best, &best_pct);
	if (best)
		signal_active(s, t->now, "%s (pid %d) %.0f%% cpu",
			      s->config->idle_agent_names[best->agent], (int)best->pid, best_pct);
	p->prev_now = t->now;
	return 0;
}

static void processes_done(struct signal_source *s)
{
	struct processes *p = s->data;

	if (!p)
		return;
	free(p->tracks);
	free(p->next);
	free(p->members);
	free(p->members_next);
	free(p->first_child);
	free(p->next_sibling);
	free(p->stack);
	free(p->visited);
	free(p);
	s->data = NULL;
	proc_snapshot_release();
}

static const struct signal_ops processes_ops = {
    .name = "processes",
    .order = 20,
    .init = processes_init,
    .sample = processes_sample,
    .done = processes_done,
};

SIGNAL_SOURCE_REGISTER(processes_ops);
