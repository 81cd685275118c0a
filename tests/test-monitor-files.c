/* The files signal against real directories and real writes, with both
 * backends (fanotify, and inotify forced by AGENTBOX_FILES_BACKEND). Writes
 * come from child processes: the test process is "the daemon", whose own
 * writes fanotify ignores. Needs root (fanotify, mount namespaces). */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "macro.h"
#include "monitor-files.h"
#include "monitor.h"
#include "tests.h"

static char top[PATH_MAX]; /* the test's temp dir, canonical */
static uint64_t seq;

/* A tick at the current time. */
static struct monitor_tick tick_now(void)
{
	struct monitor_tick t = {
	    .seq = ++seq,
	    .now = now_usec(CLOCK_BOOTTIME),
	    .realtime = now_usec(CLOCK_REALTIME),
	    .window = 100 * USEC_PER_MSEC,
	};
	return t;
}

/* "<top>/<rel>" in a static buffer (four in turn, for rename(at(), at())). */
static const char *at(const char *rel)
{
	static char bufs[4][PATH_MAX];
	static unsigned turn;
	char *buf = bufs[turn++ % 4];

	if (snprintf(buf, PATH_MAX, "%s/%s", top, rel) >= PATH_MAX)
		abort();
	return buf;
}

/* Writes a few bytes to path from this process. */
static int write_here(const char *path)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, "x\n", 2) != 2)
		return -1;
	return 0;
}

/* Writes path from a child process; 0 when it did. */
static int write_child(const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(write_here(path) == 0 ? 0 : 1);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Runs a shell command; 0 when it succeeded. */
static int sh(const char *fmt, ...) _printf_(1, 2);
static int sh(const char *fmt, ...)
{
	_cleanup_free_ char *cmd = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	r = system(cmd);
	return r == 0 ? 0 : -1;
}

/* Fresh tree: w/ (watched) with w/excl/ and w/sub/, out/ (not watched). */
static void tree_setup(void)
{
	char tmpl[] = "/tmp/agentbox-test-files.XXXXXX";

	if (top[0])
		sh("rm -rf '%s'", top);
	if (!mkdtemp(tmpl) || !realpath(tmpl, top))
		abort();
	mkdir_p(at("w/excl/deep"), 0755);
	mkdir_p(at("w/sub"), 0755);
	mkdir_p(at("w/node_modules/pkg"), 0755);
	mkdir_p(at("out"), 0755);
}

static struct config *config_for_tree(void)
{
	struct config *c = config_new();
	_cleanup_free_ char *json = NULL, *error = NULL;

	json = xasprintf("{\"workspace\": {\"home\": \"%s/w\"},"
			 " \"idle\": {\"watch_paths\": [\"%s/w\"],"
			 " \"exclude_paths\": [\"%s/w/excl\", \"*.swp\", \"node_modules\"]}}",
			 top, top, top);
	if (config_load_string(c, json, "test", &error) < 0 || config_finish(c, &error) < 0) {
		printf("config: %s\n", error);
		abort();
	}
	return c;
}

/* Sets up the source on the tree with the backend asked for. */
static void source_start(struct signal_source *s, struct config **c, const char *backend)
{
	tree_setup();
	*c = config_for_tree();
	setenv("AGENTBOX_FILES_BACKEND", backend, 1);
	signal_source_init(s, signal_source_find("files"), *c);
	s->ops->init(s);
}

static void source_stop(struct signal_source *s, struct config *c)
{
	s->ops->done(s);
	config_free(c);
	unsetenv("AGENTBOX_FILES_BACKEND");
	sh("rm -rf '%s'", top);
	top[0] = '\0';
}

/* Drains what is queued and forgets the recorded activity. */
static void quiet(struct signal_source *s)
{
	struct monitor_tick t = tick_now();

	s->ops->sample(s, &t);
	memset(&s->state, 0, sizeof(s->state));
}

/* Samples once; 1 when the source recorded activity. */
static int active_after_sample(struct signal_source *s)
{
	struct monitor_tick t = tick_now();

	s->ops->sample(s, &t);
	return s->state.last_active != 0;
}

#define ASSERT_WRITE_COUNTS(s, rel)                                                                \
	do {                                                                                       \
		quiet(s);                                                                          \
		ASSERT_OK(write_child(at(rel)));                                                   \
		ASSERT_TRUE(active_after_sample(s));                                               \
		ASSERT_STR_EQ((s)->state.detail, at(rel));                                         \
	} while (0)

#define ASSERT_WRITE_IGNORED(s, rel)                                                               \
	do {                                                                                       \
		quiet(s);                                                                          \
		ASSERT_OK(write_child(at(rel)));                                                   \
		ASSERT_FALSE(active_after_sample(s));                                              \
	} while (0)

TEST(watch_root)
{
	char *roots[] = {"/home/agent", "/srv/work", NULL};
	char *slash[] = {"/", NULL};

	ASSERT_STR_EQ(files_watch_root(roots, "/home/agent"), "/home/agent");
	ASSERT_STR_EQ(files_watch_root(roots, "/home/agent/src/x.c"), "/home/agent");
	ASSERT_STR_EQ(files_watch_root(roots, "/srv/work/a"), "/srv/work");
	ASSERT_TRUE(files_watch_root(roots, "/home/agent2/x") == NULL);
	ASSERT_TRUE(files_watch_root(roots, "/home/agen") == NULL);
	ASSERT_TRUE(files_watch_root(roots, "/home") == NULL);
	ASSERT_STR_EQ(files_watch_root(slash, "/etc/passwd"), "/");
	ASSERT_TRUE(files_watch_root(NULL, "/x") == NULL);
}

TEST(exclude_patterns)
{
	char *p[] = {
	    "/home/agent/.cache", "/home/agent/tmp-*", "node_modules", "*.swp", "build/out", NULL};
	const char *r = "/home/agent";

	/* absolute: the path and everything below */
	ASSERT_TRUE(files_path_excluded(p, r, "/home/agent/.cache"));
	ASSERT_TRUE(files_path_excluded(p, r, "/home/agent/.cache/pip/x.whl"));
	ASSERT_FALSE(files_path_excluded(p, r, "/home/agent/.cachedir/x"));
	ASSERT_TRUE(files_path_excluded(p, r, "/home/agent/tmp-1/a/b"));
	ASSERT_FALSE(files_path_excluded(p, r, "/home/agent/src/tmp-1"));
	/* no slash: any component below the root */
	ASSERT_TRUE(files_path_excluded(p, r, "/home/agent/node_modules/x/index.js"));
	ASSERT_TRUE(files_path_excluded(p, r, "/home/agent/a/b/node_modules/c.js"));
	ASSERT_TRUE(files_path_excluded(p, r, "/home/agent/src/.x.c.swp"));
	ASSERT_FALSE(files_path_excluded(p, r, "/home/agent/src/x.c"));
	ASSERT_FALSE(files_path_excluded(p, r, "/home/agent/src/x.swpx"));
	/* relative with a slash: from the root */
	ASSERT_TRUE(files_path_excluded(p, r, "/home/agent/build/out/a.o"));
	ASSERT_FALSE(files_path_excluded(p, r, "/home/agent/src/build/out/a.o"));
	ASSERT_FALSE(files_path_excluded(p, r, "/home/agent/build/outer"));
	/* '*' does not cross '/' */
	{
		char *q[] = {"/home/*/x", NULL};

		ASSERT_TRUE(files_path_excluded(q, r, "/home/agent/x"));
		ASSERT_TRUE(files_path_excluded(q, r, "/home/agent/x/y"));
		ASSERT_FALSE(files_path_excluded(q, r, "/home/agent/a/x"));
	}
	ASSERT_FALSE(files_path_excluded(NULL, r, "/home/agent/x"));
	/* the root itself is never excluded by relative patterns */
	ASSERT_FALSE(files_path_excluded(p, r, "/home/agent"));
}

/* The cases every backend must get right. */
static void common_cases(const char *backend)
{
	struct signal_source s;
	struct config *c;

	source_start(&s, &c, backend);
	if (!streq(backend, "auto"))
		ASSERT_STR_EQ(files_backend_name(&s), backend);
	ASSERT_FALSE(s.state.degraded);

	ASSERT_WRITE_COUNTS(&s, "w/a.txt");
	ASSERT_WRITE_COUNTS(&s, "w/sub/b.c");
	ASSERT_WRITE_IGNORED(&s, "w/excl/c.txt");
	ASSERT_WRITE_IGNORED(&s, "w/excl/deep/d.txt");
	ASSERT_WRITE_IGNORED(&s, "w/sub/.b.c.swp");
	ASSERT_WRITE_IGNORED(&s, "w/node_modules/pkg/index.js");
	ASSERT_WRITE_IGNORED(&s, "out/e.txt");

	/* the last path written is the detail */
	quiet(&s);
	ASSERT_OK(write_child(at("w/first")));
	ASSERT_OK(write_child(at("w/sub/second")));
	ASSERT_OK(write_child(at("out/third")));
	ASSERT_TRUE(active_after_sample(&s));
	ASSERT_STR_EQ(s.state.detail, at("w/sub/second"));

	/* a file moved in from outside (same filesystem) counts */
	quiet(&s);
	ASSERT_OK(write_child(at("out/moving.txt")));
	quiet(&s);
	/* by another process: ours would be the daemon's own */
	ASSERT_OK(sh("mv '%s' '%s'", at("out/moving.txt"), at("w/sub/moved.txt")));
	ASSERT_TRUE(active_after_sample(&s));
	ASSERT_STR_EQ(s.state.detail, at("w/sub/moved.txt"));

	/* a directory made after init */
	quiet(&s);
	ASSERT_OK(mkdir_p(at("w/new/deeper"), 0755));
	active_after_sample(&s);
	ASSERT_WRITE_COUNTS(&s, "w/new/deeper/f.txt");

	/* a quiet tree stays quiet */
	quiet(&s);
	ASSERT_FALSE(active_after_sample(&s));
	ASSERT_FALSE(s.state.degraded);
	source_stop(&s, c);
}

TEST(fanotify_cases)
{
	common_cases("fanotify");
}

TEST(inotify_cases)
{
	common_cases("inotify");
}

TEST(fanotify_own_writes_ignored)
{
	struct signal_source s;
	struct config *c;

	source_start(&s, &c, "fanotify");
	quiet(&s);
	ASSERT_OK(write_here(at("w/status.json")));
	ASSERT_FALSE(active_after_sample(&s));
	/* while another process's write counts */
	ASSERT_WRITE_COUNTS(&s, "w/status.json");
	source_stop(&s, c);
}

/* Child: enter a new mount namespace, bind-mount dir over itself (as the
 * workspace container does with the home), write file through it. */
static int write_through_bind_mount(const char *dir, const char *file)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount(dir, dir, NULL, MS_BIND, NULL) < 0)
			_exit(2);
		_exit(write_here(file) == 0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void bind_mount_case(const char *backend)
{
	struct signal_source s;
	struct config *c;
	_cleanup_free_ char *dir = NULL, *file = NULL;

	source_start(&s, &c, backend);
	dir = xstrdup(at("w"));
	file = xstrdup(at("w/sub/via-bind.txt"));
	quiet(&s);
	ASSERT_OK(write_through_bind_mount(dir, file));
	ASSERT_TRUE(active_after_sample(&s));
	ASSERT_STR_EQ(s.state.detail, file);
	source_stop(&s, c);
}

TEST(fanotify_bind_mount_other_namespace)
{
	bind_mount_case("fanotify");
}

TEST(inotify_bind_mount_other_namespace)
{
	bind_mount_case("inotify");
}

TEST(fanotify_watch_path_made_later)
{
	struct signal_source s;
	struct config *c;
	_cleanup_free_ char *json = NULL, *error = NULL;

	tree_setup();
	c = config_new();
	json = xasprintf("{\"workspace.home\": \"%s/later\", \"idle.watch_paths\": [\"%s/later\"]}",
			 top, top);
	ASSERT_OK(config_load_string(c, json, "test", &error));
	ASSERT_OK(config_finish(c, &error));
	setenv("AGENTBOX_FILES_BACKEND", "fanotify", 1);
	signal_source_init(&s, signal_source_find("files"), c);
	ASSERT_OK(s.ops->init(&s));
	ASSERT_OK(mkdir_p(at("later/x"), 0755));
	ASSERT_WRITE_COUNTS(&s, "later/x/y");
	source_stop(&s, c);
}

/* Makes n empty files under dir from a child process. */
static int touch_many(const char *dir, int n)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		char p[PATH_MAX];

		for (int i = 0; i < n; i++) {
			if (snprintf(p, sizeof(p), "%s/f%d", dir, i) >= (int)sizeof(p))
				_exit(1);
			int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0)
				_exit(1);
			close(fd);
		}
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The kernel's queue limit of a backend. */
static int queue_max(const char *backend)
{
	_cleanup_free_ char *text = NULL;
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/fs/%s/max_queued_events", backend);
	if (read_file(path, 64, &text, NULL) < 0)
		return 16384;
	return (int)strtol(text, NULL, 10);
}

static void overflow_case(const char *backend, const char *where)
{
	struct signal_source s;
	struct config *c;

	source_start(&s, &c, backend);
	quiet(&s);
	ASSERT_OK(touch_many(at(where), queue_max(backend) + 1000));
	ASSERT_TRUE(active_after_sample(&s));
	ASSERT_STR_EQ(s.state.detail, "many writes (queue overflow)");
	/* drained: quiet again */
	quiet(&s);
	quiet(&s);
	ASSERT_FALSE(active_after_sample(&s));
	source_stop(&s, c);
}

TEST(fanotify_queue_overflow)
{
	/* outside the watch paths: only the overflow can make it active */
	overflow_case("fanotify", "out");
}

TEST(inotify_queue_overflow)
{
	overflow_case("inotify", "w/sub");
}

TEST(inotify_directory_moves)
{
	struct signal_source s;
	struct config *c;

	source_start(&s, &c, "inotify");
	/* a tree moved in gets watches */
	ASSERT_OK(mkdir_p(at("out/moved/inner"), 0755));
	ASSERT_OK(rename(at("out/moved"), at("w/moved")) < 0 ? -1 : 0);
	quiet(&s);
	ASSERT_WRITE_COUNTS(&s, "w/moved/inner/x");
	/* a tree moved out stops counting */
	ASSERT_OK(rename(at("w/sub"), at("out/sub")) < 0 ? -1 : 0);
	quiet(&s);
	ASSERT_WRITE_IGNORED(&s, "out/sub/y");
	/* and a rename within the tree keeps counting, under the new name */
	ASSERT_OK(rename(at("w/moved"), at("w/renamed")) < 0 ? -1 : 0);
	quiet(&s);
	ASSERT_WRITE_COUNTS(&s, "w/renamed/inner/z");
	source_stop(&s, c);
}

TEST(fanotify_directory_moves)
{
	struct signal_source s;
	struct config *c;

	source_start(&s, &c, "fanotify");
	/* a directory outside, seen (and remembered as outside) ... */
	ASSERT_OK(mkdir_p(at("out/m/inner"), 0755));
	ASSERT_WRITE_IGNORED(&s, "out/m/inner/a");
	ASSERT_WRITE_IGNORED(&s, "out/m/inner/a");
	/* ... then moved in: its writes count */
	ASSERT_OK(rename(at("out/m"), at("w/m")) < 0 ? -1 : 0);
	ASSERT_WRITE_COUNTS(&s, "w/m/inner/b");
	/* and moved out again: they do not */
	ASSERT_OK(rename(at("w/m"), at("out/m2")) < 0 ? -1 : 0);
	ASSERT_WRITE_IGNORED(&s, "out/m2/inner/c");
	source_stop(&s, c);
}

/* Child: in a user namespace whose inotify watch limit is 3, starts the
 * inotify backend on the tree (more than 3 directories). Exit 0 when it
 * degraded with a reason naming the sysctl. */
static void watch_limit_child(void)
{
	struct signal_source s;
	struct config *c = config_for_tree();
	int fd;

	if (unshare(CLONE_NEWUSER) < 0)
		_exit(3);
	fd = open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0 0 1\n", 6) != 6)
		_exit(3);
	close(fd);
	fd = open("/proc/sys/user/max_inotify_watches", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "3", 1) != 1)
		_exit(3);
	close(fd);
	signal_source_init(&s, signal_source_find("files"), c);
	s.ops->init(&s);
	if (!s.state.degraded || !strstr(s.state.reason, "fs.inotify.max_user_watches")) {
		printf("degraded %d reason '%s'\n", s.state.degraded, s.state.reason);
		_exit(1);
	}
	/* degraded stays: some directories are not watched */
	{
		struct monitor_tick t = tick_now();
		s.ops->sample(&s, &t);
	}
	_exit(s.state.degraded ? 0 : 1);
}

TEST(inotify_watch_limit_degrades)
{
	int status;
	pid_t pid;

	tree_setup();
	for (int i = 0; i < 5; i++) {
		char d[16];

		snprintf(d, sizeof(d), "w/sub/%d", i);
		ASSERT_OK(mkdir_p(at(d), 0755));
	}
	setenv("AGENTBOX_FILES_BACKEND", "inotify", 1);
	pid = fork();
	if (pid == 0)
		watch_limit_child();
	ASSERT_TRUE(pid > 0);
	ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
	unsetenv("AGENTBOX_FILES_BACKEND");
	sh("rm -rf '%s'", top);
	top[0] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
		TEST_SKIP("no user namespaces");
	}
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_INT_EQ(WEXITSTATUS(status), 0);
}

TEST(no_watch_paths)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct signal_source s;

	/* without config_finish: no watch paths at all */
	signal_source_init(&s, signal_source_find("files"), c);
	ASSERT_OK(s.ops->init(&s));
	ASSERT_FALSE(active_after_sample(&s));
	ASSERT_FALSE(s.state.degraded);
	s.ops->done(&s);
}
