/* The sessions signal against real ptys: a pty held as controlling tty by
 * a child, written to (output) and read from (input), left alone, and
 * written to by monitor_wall(); a pty of another devpts instance plays the
 * workspace container's. The kernel moves tty times only when they leave
 * their 8-second block, so the test ages a pty's times with futimens()
 * before it acts, instead of waiting. Runs in a private pid namespace
 * (private-proc.h): no other terminal of the machine counts. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "monitor-proc.h"
#include "monitor.h"
#include "private-proc.h"
#include "tests.h"

struct pty {
	int master, slave;
	unsigned n; /* pts/<n> */
	pid_t holder;
};

/* Opens a pty on the devpts whose ptmx is given, held as controlling tty
 * by a child named holder_name; 0 or -errno. */
static int pty_open(struct pty *p, const char *ptmx, const char *holder_name)
{
	int ready[2];
	char c;

	p->master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->master < 0)
		return -errno;
	if (unlockpt(p->master) < 0 || ioctl(p->master, TIOCGPTN, &p->n) < 0)
		return -errno;
	p->slave = ioctl(p->master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->slave < 0)
		return -errno;
	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	p->holder = fork();
	if (p->holder < 0)
		return -errno;
	if (p->holder == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		(void)prctl(PR_SET_NAME, holder_name);
		if (setsid() < 0 || ioctl(p->slave, TIOCSCTTY, 0) < 0)
			_exit(1);
		dup2(p->slave, 0);
		dup2(p->slave, 1);
		dup2(p->slave, 2);
		(void)!write(ready[1], "r", 1);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -EIO;
	}
	close(ready[0]);
	return 0;
}

static void pty_close(struct pty *p)
{
	if (p->holder > 0) {
		kill(p->holder, SIGKILL);
		waitpid(p->holder, NULL, 0);
	}
	close(p->slave);
	close(p->master);
	private_proc_reap();
}

/* Sets the pty's input and output times secs into the past (or future),
 * so the kernel's next update is not swallowed by its 8-second blocks. */
static int pty_age(struct pty *p, int secs)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= secs;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	return futimens(p->slave, ts) < 0 ? -errno : 0;
}

static void tick(struct monitor_tick *t)
{
	usec_t now = now_usec(CLOCK_BOOTTIME);

	t->window = t->seq > 0 ? now - t->now : 0;
	t->seq++;
	t->now = now;
	t->realtime = now_usec(CLOCK_REALTIME);
}

/* A sessions source with its first (baseline) sample taken. */
static void start(struct signal_source *s, const struct config *c, struct monitor_tick *t)
{
	signal_source_init(s, signal_source_find("sessions"), c);
	s->ops->init(s);
	tick(t);
	s->ops->sample(s, t);
}

static int sample(struct signal_source *s, struct monitor_tick *t)
{
	tick(t);
	return s->ops->sample(s, t);
}

TEST(registered)
{
	const struct signal_ops *ops = signal_source_find("sessions");

	ASSERT_NOT_NULL(ops);
	ASSERT_INT_EQ(ops->order, 40);
}

TEST(output_is_activity)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	struct pty p;
	usec_t before;
	char want[64];

	ASSERT_OK(pty_open(&p, "/dev/ptmx", "bash"));
	ASSERT_OK(pty_age(&p, 100));
	start(&s, c, &t);
	before = s.state.last_active;
	ASSERT_TRUE(before < t.now - 90 * USEC_PER_SEC); /* what it showed: 100 s ago */
	ASSERT_TRUE(write(p.slave, "hello\r\n", 7) == 7);
	ASSERT_OK(sample(&s, &t));
	pty_close(&p);
	snprintf(want, sizeof(want), "pts/%u (bash) output", p.n);
	ASSERT_TRUE(s.state.last_active > before);
	ASSERT_TRUE(s.state.last_active + 2 * USEC_PER_SEC > t.now);
	ASSERT_STR_EQ(s.state.detail, want);
	ASSERT_FALSE(s.state.degraded); /* no logind here: not used, not degraded */
	s.ops->done(&s);
}

TEST(input_is_activity)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	struct pty p;
	usec_t before;
	char buf[16], want[64];

	ASSERT_OK(pty_open(&p, "/dev/ptmx", "claude"));
	ASSERT_OK(pty_age(&p, 100));
	start(&s, c, &t);
	before = s.state.last_active;
	/* a key typed at the terminal, read by the program on the pty */
	ASSERT_TRUE(write(p.master, "y\n", 2) == 2);
	ASSERT_TRUE(read(p.slave, buf, sizeof(buf)) > 0);
	ASSERT_OK(sample(&s, &t));
	pty_close(&p);
	snprintf(want, sizeof(want), "pts/%u (claude) input", p.n);
	ASSERT_TRUE(s.state.last_active > before);
	ASSERT_STR_EQ(s.state.detail, want);
	s.ops->done(&s);
}

TEST(idle_pty_is_not_activity)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	struct pty p;
	usec_t before;

	ASSERT_OK(pty_open(&p, "/dev/ptmx", "bash"));
	ASSERT_OK(pty_age(&p, 100));
	start(&s, c, &t);
	before = s.state.last_active;
	for (int i = 0; i < 3; i++) {
		usleep(20000);
		ASSERT_OK(sample(&s, &t));
	}
	pty_close(&p);
	ASSERT_UINT_EQ(s.state.last_active, before);
	ASSERT_TRUE(before < t.now - 90 * USEC_PER_SEC);
	s.ops->done(&s);
}

TEST(wall_is_not_activity)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	struct pty p;
	usec_t before;
	char buf[512];
	ssize_t k;

	ASSERT_OK(pty_open(&p, "/dev/ptmx", "bash"));
	ASSERT_OK(pty_age(&p, 100));
	start(&s, c, &t);
	before = s.state.last_active;
	ASSERT_TRUE(monitor_wall("going idle") >= 1);
	/* it did reach the terminal, and moved its output time */
	k = read(p.master, buf, sizeof(buf) - 1);
	ASSERT_TRUE(k > 0);
	buf[k] = '\0';
	ASSERT_STR_CONTAINS(buf, "going idle");
	ASSERT_OK(sample(&s, &t));
	pty_close(&p);
	ASSERT_UINT_EQ(s.state.last_active, before);
	s.ops->done(&s);
}

TEST(container_pty_is_activity)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	char dir[] = "/tmp/agentbox-test-sessions.XXXXXX", ptmx[PATH_MAX], want[64];
	struct pty p;
	usec_t before = 0;
	int r;

	/* a devpts instance of its own, as a container has */
	ASSERT_NOT_NULL(mkdtemp(dir));
	r = mount("devpts", dir, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666");
	if (r < 0) {
		rmdir(dir);
		TEST_SKIP("devpts newinstance: %s", strerror(errno));
	}
	snprintf(ptmx, sizeof(ptmx), "%s/ptmx", dir);
	r = pty_open(&p, ptmx, "tmux: server");
	if (r == 0)
		r = pty_age(&p, 100);
	if (r == 0) {
		start(&s, c, &t);
		before = s.state.last_active;
		r = write(p.slave, "building...\r\n", 13) == 13 ? sample(&s, &t) : -EIO;
		pty_close(&p);
		s.ops->done(&s);
	}
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	ASSERT_OK(r);
	snprintf(want, sizeof(want), "pts/%u in container (tmux: server) output", p.n);
	ASSERT_TRUE(s.state.last_active > before);
	ASSERT_STR_EQ(s.state.detail, want);
}

TEST(times_set_back_are_not_activity)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	struct pty p;
	usec_t before;

	ASSERT_OK(pty_open(&p, "/dev/ptmx", "bash"));
	ASSERT_OK(pty_age(&p, 100));
	start(&s, c, &t);
	before = s.state.last_active;
	ASSERT_OK(pty_age(&p, 200));
	ASSERT_OK(sample(&s, &t));
	ASSERT_OK(pty_age(&p, 50)); /* changed, newer than seen, but not since the last tick */
	ASSERT_OK(sample(&s, &t));
	pty_close(&p);
	ASSERT_UINT_EQ(s.state.last_active, before);
	s.ops->done(&s);
}

TEST(times_ahead_of_the_clock_do_not_hide_activity)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	struct pty p;
	usec_t first;
	char want[64];

	/* as after the clock was stepped back by an hour */
	ASSERT_OK(pty_open(&p, "/dev/ptmx", "bash"));
	ASSERT_OK(pty_age(&p, -3600));
	start(&s, c, &t);
	first = t.now;
	/* tty times are whole seconds: let a new one be after the first tick */
	usleep(1100 * 1000);
	ASSERT_TRUE(write(p.slave, "hello\r\n", 7) == 7);
	ASSERT_OK(sample(&s, &t));
	pty_close(&p);
	snprintf(want, sizeof(want), "pts/%u (bash) output", p.n);
	ASSERT_TRUE(s.state.last_active > first);
	ASSERT_STR_EQ(s.state.detail, want);
	s.ops->done(&s);
}

TEST(ended_pty_is_forgotten)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	struct pty p;

	ASSERT_OK(pty_open(&p, "/dev/ptmx", "bash"));
	ASSERT_OK(pty_age(&p, 100));
	start(&s, c, &t);
	pty_close(&p);
	for (int i = 0; i < 3; i++)
		ASSERT_OK(sample(&s, &t));
	ASSERT_FALSE(s.state.degraded);
	s.ops->done(&s);
}

TEST(unreadable_proc_degrades)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};

	signal_source_init(&s, signal_source_find("sessions"), c);
	s.ops->init(&s);
	proc_snapshot_set_root("/nonexistent-proc");
	ASSERT_TRUE(sample(&s, &t) < 0);
	ASSERT_TRUE(s.state.degraded);
	proc_snapshot_set_root(NULL);
	ASSERT_OK(sample(&s, &t));
	ASSERT_FALSE(s.state.degraded);
	s.ops->done(&s);
}

TEST(pty_opened_between_discoveries_is_found_by_the_next)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;
	struct monitor_tick t = {0};
	struct pty p;
	usec_t first;
	char want[64];

	c->idle_timeout = 30 * USEC_PER_SEC; /* a discovery every second */
	c->idle_interval = 100 * USEC_PER_MSEC;
	start(&s, c, &t);
	first = t.now;
	ASSERT_OK(pty_open(&p, "/dev/ptmx", "bash"));
	ASSERT_OK(pty_age(&p, 100));
	ASSERT_OK(sample(&s, &t)); /* between discoveries: not looked for */
	if (t.now - first < USEC_PER_SEC)
		ASSERT_UINT_EQ(s.state.last_active, 0);
	while (now_usec(CLOCK_BOOTTIME) - first < USEC_PER_SEC + 50 * USEC_PER_MSEC)
		usleep(100 * 1000);
	ASSERT_OK(sample(&s, &t)); /* found: it shows its latest time */
	ASSERT_TRUE(s.state.last_active > 0);
	/* and from now on it is polled between discoveries */
	ASSERT_TRUE(write(p.slave, "hello\r\n", 7) == 7);
	ASSERT_OK(sample(&s, &t));
	pty_close(&p);
	snprintf(want, sizeof(want), "pts/%u (bash) output", p.n);
	ASSERT_TRUE(s.state.last_active + 2 * USEC_PER_SEC > t.now);
	ASSERT_STR_EQ(s.state.detail, want);
	s.ops->done(&s);
}
