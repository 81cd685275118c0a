/* The processes signal against real processes: tests/helpers/spin started
 * under agent and non-agent names, busy or asleep, in a private pid
 * namespace (private-proc.h) so nothing else on the machine counts. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor-discovery.h"
#include "monitor-proc.h"
#include "monitor.h"
#include "private-proc.h"
#include "tests.h"

#define WINDOW_MSEC 400

static char spin_dir[] = "/tmp/agentbox-test-processes.XXXXXX";
static int spin_dir_made;

/* Removes spin_dir and the links in it (atexit). */
static void spin_dir_remove(void)
{
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", spin_dir);

	(void)!system(cmd);
}

/* A symlink to the spin helper named name, in spin_dir; its path. */
static char *spin_link(const char *name)
{
	char self[PATH_MAX], *slash, *link;
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);
	_cleanup_free_ char *target = NULL;

	if (k < 0)
		return NULL;
	self[k] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	target = xasprintf("%s/helpers/spin", self);
	if (!spin_dir_made) {
		if (!mkdtemp(spin_dir))
			return NULL;
		spin_dir_made = 1;
		atexit(spin_dir_remove);
	}
	link = xasprintf("%s/%s", spin_dir, name);
	if (symlink(target, link) < 0 && errno != EEXIST) {
		free(link);
		return NULL;
	}
	return link;
}

/* Starts the helper as "name" with argv (NULL-terminated, argv[0] first);
 * returns once it is in its mode, or -1. */
static pid_t spawn(const char *name, const char *const *argv)
{
	_cleanup_free_ char *path = spin_link(name);
	int p[2];
	pid_t pid;
	char c;

	if (!path || pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], 3);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

static void stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	private_proc_reap();
}

static void tick(struct monitor_tick *t)
{
	usec_t now = now_usec(CLOCK_BOOTTIME);

	t->window = t->seq > 0 ? now - t->now : 0;
	t->seq++;
	t->now = now;
	t->realtime = now_usec(CLOCK_REALTIME);
}

static void msleep(unsigned msec)
{
	struct timespec ts = {msec / 1000, (long)(msec % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Makes every tick a discovery, as in the daemon tests (3 s timeout). */
static void discover_every_tick(struct config *c)
{
	c->idle_timeout = 30;
	c->idle_interval = 1;
}

/* Samples a fresh source twice, WINDOW_MSEC apart, with pid running:
 * returns the source's state after the second tick (detail copied). With
 * the default config (a discovery every 60 s) the second tick is between
 * discoveries: it reads only what the first found. */
static struct signal_state observe(void)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	struct signal_state st;

	signal_source_init(&s, signal_source_find("processes"), c);
	s.ops->init(&s);
	tick(&t);
	s.ops->sample(&s, &t);
	msleep(WINDOW_MSEC);
	tick(&t);
	s.ops->sample(&s, &t);
	st = s.state;
	s.ops->done(&s);
	return st;
}

TEST(registered)
{
	const struct signal_ops *ops = signal_source_find("processes");

	ASSERT_NOT_NULL(ops);
	ASSERT_INT_EQ(ops->order, 20);
}

TEST(name_match)
{
	char *names[] = {"claude", "aider", "averyveryverylongname", NULL};

	ASSERT_INT_EQ(proc_name_match("claude", 6, names), 0);
	ASSERT_INT_EQ(proc_name_match("claude-code", 11, names), 0);
	ASSERT_INT_EQ(proc_name_match("aider.main", 10, names), 1);
	ASSERT_INT_EQ(proc_name_match("claudette", 9, names), -1);
	ASSERT_INT_EQ(proc_name_match("claude2", 7, names), -1);
	ASSERT_INT_EQ(proc_name_match("xclaude", 7, names), -1);
	ASSERT_INT_EQ(proc_name_match("averyveryverylo", 15, names), 2);
	ASSERT_INT_EQ(proc_name_match("", 0, names), -1);
}

TEST(busy_agent_is_active)
{
	pid_t pid = spawn("claude", (const char *[]){"claude", "--busy", NULL});
	struct signal_state st;
	char want[64];

	ASSERT_TRUE(pid > 0);
	st = observe();
	stop(pid);
	snprintf(want, sizeof(want), "claude (pid %d) ", (int)pid);
	ASSERT_TRUE(st.last_active > 0);
	ASSERT_STR_CONTAINS(st.detail, want);
	ASSERT_STR_CONTAINS(st.detail, "% cpu");
	ASSERT_FALSE(st.degraded);
}

TEST(sleeping_agent_is_not_active)
{
	pid_t pid = spawn("claude", (const char *[]){"claude", "--sleep", NULL});
	struct signal_state st;

	ASSERT_TRUE(pid > 0);
	st = observe();
	stop(pid);
	ASSERT_UINT_EQ(st.last_active, 0);
	ASSERT_FALSE(st.degraded);
}

TEST(busy_non_agent_is_not_active)
{
	pid_t pid = spawn("make", (const char *[]){"make", "--busy", NULL});
	struct signal_state st;

	ASSERT_TRUE(pid > 0);
	st = observe();
	stop(pid);
	ASSERT_UINT_EQ(st.last_active, 0);
}

TEST(sleeping_agent_with_busy_child_is_active)
{
	pid_t pid = spawn("codex", (const char *[]){"codex", "--busy-child", NULL});
	struct signal_state st;
	char want[64];

	ASSERT_TRUE(pid > 0);
	st = observe();
	stop(pid);
	snprintf(want, sizeof(want), "codex (pid %d) ", (int)pid);
	ASSERT_TRUE(st.last_active > 0);
	ASSERT_STR_CONTAINS(st.detail, want);
}

TEST(reaped_children_count)
{
	pid_t pid = spawn("aider", (const char *[]){"aider", "--reaped-children", NULL});
	struct signal_state st;

	ASSERT_TRUE(pid > 0);
	st = observe();
	stop(pid);
	ASSERT_TRUE(st.last_active > 0);
	ASSERT_STR_CONTAINS(st.detail, "aider (pid");
}

TEST(children_reaped_by_a_descendant_count)
{
	/* claude -> sh -> short-lived compilers that sh reaps: their time is
	 * in the cutime of sh, not of the agent */
	pid_t pid = spawn("claude", (const char *[]){"claude", "--reaping-child", NULL});
	struct signal_state st;
	char want[64];

	ASSERT_TRUE(pid > 0);
	st = observe();
	stop(pid);
	snprintf(want, sizeof(want), "claude (pid %d) ", (int)pid);
	ASSERT_TRUE(st.last_active > 0);
	ASSERT_STR_CONTAINS(st.detail, want);
}

TEST(node_script_is_matched)
{
	pid_t pid =
	    spawn("node", (const char *[]){"node", "--no-warnings",
					   "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js",
					   "--busy", NULL});
	struct signal_state st;

	ASSERT_TRUE(pid > 0);
	st = observe();
	stop(pid);
	ASSERT_TRUE(st.last_active > 0);
	ASSERT_STR_CONTAINS(st.detail, "claude (pid");
}

TEST(exec_a_is_matched)
{
	/* exec -a gemini node server.js: comm "node", argv[0] "gemini" */
	pid_t pid = spawn("node", (const char *[]){"gemini", "/srv/app/server.js", "--busy", NULL});
	struct signal_state st;

	ASSERT_TRUE(pid > 0);
	st = observe();
	stop(pid);
	ASSERT_TRUE(st.last_active > 0);
	ASSERT_STR_CONTAINS(st.detail, "gemini (pid");
}

TEST(python_module_is_matched)
{
	pid_t pid =
	    spawn("python3", (const char *[]){"python3", "-m", "aider.main", "--busy", NULL});
	struct signal_state st;

	ASSERT_TRUE(pid > 0);
	st = observe();
	stop(pid);
	ASSERT_TRUE(st.last_active > 0);
	ASSERT_STR_CONTAINS(st.detail, "aider (pid");
}

TEST(deno_run_is_matched)
{
	pid_t pid =
	    spawn("deno",
		  (const char *[]){"deno", "run", "-A",
				   "/home/u/.cache/deno/npm/node_modules/opencode-ai/bin/opencode",
				   "--busy", NULL});
	struct signal_state st;

	ASSERT_TRUE(pid > 0);
	st = observe();
	stop(pid);
	ASSERT_TRUE(st.last_active > 0);
	ASSERT_STR_CONTAINS(st.detail, "opencode (pid");
}

TEST(claudette_is_not_matched)
{
	pid_t a = spawn("claudette", (const char *[]){"claudette", "--busy", NULL});
	pid_t b =
	    spawn("node", (const char *[]){"node", "/home/u/claudette/cli.js", "--busy", NULL});
	pid_t c = spawn("node", (const char *[]){"node", "/srv/app.js", "claude", "--busy", NULL});
	struct signal_state st;

	ASSERT_TRUE(a > 0 && b > 0 && c > 0);
	st = observe();
	stop(a);
	stop(b);
	stop(c);
	ASSERT_UINT_EQ(st.last_active, 0);
}

TEST(new_agent_counts_from_its_start)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	pid_t pid;

	discover_every_tick(c);
	signal_source_init(&s, signal_source_find("processes"), c);
	s.ops->init(&s);
	tick(&t);
	s.ops->sample(&s, &t);
	/* started after the baseline: all its CPU is of this window */
	pid = spawn("opencode", (const char *[]){"opencode", "--busy", NULL});
	msleep(WINDOW_MSEC);
	tick(&t);
	s.ops->sample(&s, &t);
	stop(pid);
	ASSERT_TRUE(pid > 0);
	ASSERT_UINT_EQ(s.state.last_active, t.now);
	ASSERT_STR_CONTAINS(s.state.detail, "opencode (pid");
	s.ops->done(&s);
}

TEST(agent_going_quiet_stops_counting)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	pid_t pid = spawn("claude", (const char *[]){"claude", "--busy", NULL});
	usec_t busy_at;

	ASSERT_TRUE(pid > 0);
	signal_source_init(&s, signal_source_find("processes"), c);
	s.ops->init(&s);
	tick(&t);
	s.ops->sample(&s, &t);
	msleep(WINDOW_MSEC);
	tick(&t);
	s.ops->sample(&s, &t);
	busy_at = t.now;
	kill(pid, SIGSTOP); /* at its prompt, as far as CPU goes */
	msleep(50);
	tick(&t);
	s.ops->sample(&s, &t);
	msleep(WINDOW_MSEC);
	tick(&t);
	s.ops->sample(&s, &t);
	stop(pid);
	ASSERT_TRUE(s.state.last_active >= busy_at);
	ASSERT_TRUE(s.state.last_active < t.now);
	s.ops->done(&s);
}

TEST(cmdline_read_once_per_process)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	pid_t pid = spawn("node", (const char *[]){"node", "/srv/app.js", "--sleep", NULL});
	uint64_t reads;

	ASSERT_TRUE(pid > 0);
	discover_every_tick(c);
	signal_source_init(&s, signal_source_find("processes"), c);
	s.ops->init(&s);
	tick(&t);
	s.ops->sample(&s, &t);
	reads = proc_cmdline_reads();
	for (int i = 0; i < 5; i++) {
		tick(&t);
		s.ops->sample(&s, &t);
	}
	stop(pid);
	ASSERT_UINT_EQ(proc_cmdline_reads(), reads);
	s.ops->done(&s);
}

/* Open fds of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the one readdir uses */
}

TEST(ended_processes_leave_the_caches)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	pid_t pids[20];
	int fds_with, fds_after;

	discover_every_tick(c);
	signal_source_init(&s, signal_source_find("processes"), c);
	s.ops->init(&s);
	tick(&t);
	s.ops->sample(&s, &t);
	for (size_t i = 0; i < ELEMENTSOF(pids); i++)
		pids[i] = spawn("node", (const char *[]){"node", "/srv/app.js", "--sleep", NULL});
	tick(&t);
	s.ops->sample(&s, &t);
	fds_with = count_fds();
	for (size_t i = 0; i < ELEMENTSOF(pids); i++)
		stop(pids[i]);
	tick(&t);
	s.ops->sample(&s, &t);
	fds_after = count_fds();
	s.ops->done(&s);
	for (size_t i = 0; i < ELEMENTSOF(pids); i++)
		ASSERT_TRUE(pids[i] > 0);
	/* each process's stat file was kept open, and closed once it ended */
	ASSERT_INT_EQ(fds_with - fds_after, (int)ELEMENTSOF(pids));
}

TEST(unreadable_proc_degrades)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};

	signal_source_init(&s, signal_source_find("processes"), c);
	s.ops->init(&s);
	proc_snapshot_set_root("/nonexistent-proc");
	tick(&t);
	ASSERT_TRUE(s.ops->sample(&s, &t) < 0);
	ASSERT_TRUE(s.state.degraded);
	ASSERT_STR_CONTAINS(s.state.reason, "/nonexistent-proc");
	proc_snapshot_set_root(NULL);
	tick(&t);
	ASSERT_OK(s.ops->sample(&s, &t));
	ASSERT_FALSE(s.state.degraded);
	s.ops->done(&s);
}

/* Samples s at a new tick. */
static void sample(struct signal_source *s, struct monitor_tick *t)
{
	tick(t);
	ASSERT_OK(s->ops->sample(s, t));
}

TEST(known_busy_agent_is_seen_every_tick_between_discoveries)
{
	_cleanup_(config_freep) struct config *c = config_new(); /* a discovery every 60 s */
	struct signal_source s;
	struct monitor_tick t = {0};
	pid_t pid = spawn("claude", (const char *[]){"claude", "--busy", NULL});
	char want[64];
	int seen = 0; /* ticks it was seen at */

	ASSERT_TRUE(pid > 0);
	snprintf(want, sizeof(want), "claude (pid %d) ", (int)pid);
	signal_source_init(&s, signal_source_find("processes"), c);
	s.ops->init(&s);
	sample(&s, &t);
	for (int i = 0; i < 3; i++) {
		msleep(WINDOW_MSEC);
		sample(&s, &t);
		seen += s.state.last_active == t.now && strstr(s.state.detail, want);
	}
	stop(pid);
	s.ops->done(&s);
	ASSERT_INT_EQ(seen, 3);
}

TEST(known_busy_descendant_is_seen_every_tick_between_discoveries)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	pid_t pid = spawn("codex", (const char *[]){"codex", "--busy-child", NULL});
	char want[64];
	int seen = 0;

	ASSERT_TRUE(pid > 0);
	snprintf(want, sizeof(want), "codex (pid %d) ", (int)pid);
	signal_source_init(&s, signal_source_find("processes"), c);
	s.ops->init(&s);
	sample(&s, &t);
	for (int i = 0; i < 3; i++) {
		msleep(WINDOW_MSEC);
		sample(&s, &t);
		seen += s.state.last_active == t.now && strstr(s.state.detail, want);
	}
	stop(pid);
	s.ops->done(&s);
	ASSERT_INT_EQ(seen, 3);
}

TEST(new_busy_agent_is_seen_at_the_next_discovery)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	usec_t first, early;
	pid_t pid;

	c->idle_timeout = 30 * USEC_PER_SEC; /* a discovery every second */
	c->idle_interval = 100 * USEC_PER_MSEC;
	ASSERT_UINT_EQ(monitor_discovery_period(c), USEC_PER_SEC);
	signal_source_init(&s, signal_source_find("processes"), c);
	s.ops->init(&s);
	sample(&s, &t);
	first = t.now;
	pid = spawn("opencode", (const char *[]){"opencode", "--busy", NULL});
	ASSERT_TRUE(pid > 0);
	msleep(300);
	sample(&s, &t); /* between discoveries: not looked for yet */
	early = t.now - first < USEC_PER_SEC ? s.state.last_active : 0;
	while (now_usec(CLOCK_BOOTTIME) - first < USEC_PER_SEC + 50 * USEC_PER_MSEC)
		msleep(100);
	sample(&s, &t); /* the next discovery: all its CPU so far */
	stop(pid);
	ASSERT_UINT_EQ(early, 0);
	ASSERT_UINT_EQ(s.state.last_active, t.now);
	ASSERT_STR_CONTAINS(s.state.detail, "opencode (pid");
	s.ops->done(&s);
}

/* Waits (up to 2 s) until the first child of pid is named name (the
 * helper names its child after fork); 0 or -ETIMEDOUT. */
static int wait_child_named(pid_t pid, const char *name)
{
	for (int i = 0; i < 200; i++) {
		char path[64], buf[64] = "";
		FILE *f;
		int child = 0;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
		f = fopen(path, "re");
		if (f) {
			if (fscanf(f, "%d", &child) != 1)
				child = 0;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/%d/comm", child);
		f = child > 0 ? fopen(path, "re") : NULL;
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
			buf[strcspn(buf, "\n")] = '\0';
			if (streq(buf, name))
				return 0;
		}
		msleep(10);
	}
	return -ETIMEDOUT;
}

TEST(ticks_between_discoveries_read_only_known_processes)
{
	_cleanup_(config_freep) struct config *c = config_new(); /* a discovery every 60 s */
	struct signal_source s, ss;
	struct monitor_tick t = {0};
	pid_t others[30], agent;
	uint64_t reads, discovery_reads, between_reads = 0;

	for (size_t i = 0; i < ELEMENTSOF(others); i++)
		others[i] = spawn("make", (const char *[]){"make", "--sleep", NULL});
	/* the agent and its child: the two processes known */
	agent = spawn("codex", (const char *[]){"codex", "--busy-child", NULL});
	ASSERT_TRUE(agent > 0);
	ASSERT_OK(wait_child_named(agent, "cc1")); /* else it is a second "codex" */
	signal_source_init(&s, signal_source_find("processes"), c);
	signal_source_init(&ss, signal_source_find("sessions"), c);
	s.ops->init(&s);
	ss.ops->init(&ss);
	reads = proc_stat_reads();
	tick(&t);
	ASSERT_OK(s.ops->sample(&s, &t));
	ASSERT_OK(ss.ops->sample(&ss, &t));
	discovery_reads = proc_stat_reads() - reads;
	for (int i = 0; i < 3; i++) {
		msleep(50);
		reads = proc_stat_reads();
		tick(&t);
		(void)s.ops->sample(&s, &t);
		(void)ss.ops->sample(&ss, &t);
		between_reads = MAX(between_reads, proc_stat_reads() - reads);
	}
	s.ops->done(&s);
	ss.ops->done(&ss);
	stop(agent);
	for (size_t i = 0; i < ELEMENTSOF(others); i++)
		stop(others[i]);
	/* the discovery read them all: this test, the 30 others, the agent and
	 * its child; the ticks between only the agent and its child */
	ASSERT_TRUE(discovery_reads >= ELEMENTSOF(others) + 3);
	ASSERT_UINT_EQ(between_reads, 2);
}
