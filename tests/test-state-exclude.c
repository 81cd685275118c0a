/* lib/state-exclude: state.exclude globs, the .agentboxignore subset of
 * gitignore, the defaults and CACHEDIR.TAG, through the archive's walk. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "state-exclude.h"
#include "tarball.h"
#include "tests.h"
#include "time-util.h"

TEST(globs)
{
	char *ex[] = {"*.tmp", "/home/a/.claude/cache", "/home/*/.claude/x*", NULL};

	ASSERT_TRUE(state_exclude_globs_match(ex, "/home/a/.claude/f.tmp"));
	ASSERT_TRUE(state_exclude_globs_match(ex, "/home/a/.claude/cache"));
	ASSERT_TRUE(state_exclude_globs_match(ex, "/home/b/.claude/xyz"));
	ASSERT_FALSE(state_exclude_globs_match(ex, "/home/a/.claude/cache2"));
	ASSERT_FALSE(state_exclude_globs_match(ex, "/home/a/.claude/sub/xyz"));
	ASSERT_FALSE(state_exclude_globs_match(NULL, "/x"));
}

TEST(patterns)
{
	/* no '/': the last component at any depth */
	ASSERT_TRUE(state_exclude_pattern_match("*.log", "a.log", 0));
	ASSERT_TRUE(state_exclude_pattern_match("*.log", "x/y/a.log", 0));
	ASSERT_FALSE(state_exclude_pattern_match("*.log", "a.log/b", 0));
	ASSERT_TRUE(state_exclude_pattern_match("dist", "web/dist", 1));
	ASSERT_TRUE(state_exclude_pattern_match("dist", "web/dist", 0));
	/* trailing '/': directories only */
	ASSERT_TRUE(state_exclude_pattern_match("out/", "x/out", 1));
	ASSERT_FALSE(state_exclude_pattern_match("out/", "x/out", 0));
	/* a '/' anchors at the ignore file's directory */
	ASSERT_TRUE(state_exclude_pattern_match("/build", "build", 1));
	ASSERT_FALSE(state_exclude_pattern_match("/build", "sub/build", 1));
	ASSERT_TRUE(state_exclude_pattern_match("doc/*.html", "doc/a.html", 0));
	ASSERT_FALSE(state_exclude_pattern_match("doc/*.html", "doc/x/a.html", 0));
	ASSERT_FALSE(state_exclude_pattern_match("doc/*.html", "x/doc/a.html", 0));
	/* "**" */
	ASSERT_TRUE(state_exclude_pattern_match("**/gen", "gen", 1));
	ASSERT_TRUE(state_exclude_pattern_match("**/gen", "a/b/gen", 1));
	ASSERT_TRUE(state_exclude_pattern_match("a/**/b", "a/b", 0));
	ASSERT_TRUE(state_exclude_pattern_match("a/**/b", "a/x/y/b", 0));
	ASSERT_FALSE(state_exclude_pattern_match("a/**/b", "x/a/b", 0));
	ASSERT_TRUE(state_exclude_pattern_match("logs/**", "logs/x", 0));
	ASSERT_TRUE(state_exclude_pattern_match("logs/**", "logs/x/y", 0));
	ASSERT_FALSE(state_exclude_pattern_match("logs/**", "logs", 1));
	ASSERT_TRUE(state_exclude_pattern_match("**/x/**", "a/x/b/c", 0));
	ASSERT_FALSE(state_exclude_pattern_match("**/x/**", "a/x", 1));
	ASSERT_TRUE(state_exclude_pattern_match("a/**/**/b", "a/b", 0));
	ASSERT_TRUE(state_exclude_pattern_match("**/a/**/b/**/c", "z/a/q/b/c/b/r/c", 0));
	ASSERT_FALSE(state_exclude_pattern_match("**/a/**/b/**/c", "z/a/q/c/b", 0));
	/* many "**" against a deep path: answered at once, not by backtracking */
	{
		_cleanup_free_ char *pat = xstrdup(""), *path = xstrdup("");
		usec_t t0 = now_usec(CLOCK_MONOTONIC);
		for (int i = 0; i < 60; i++) {
			char *o = pat;
			pat = xasprintf("%s**/a/", o);
			free(o);
		}
		for (int i = 0; i < 400; i++) {
			char *o = path;
			path = xasprintf("%sa/", o);
			free(o);
		}
		pat[strlen(pat) - 1] = 'b';
		path[strlen(path) - 1] = 'c';
		ASSERT_FALSE(state_exclude_pattern_match(pat, path, 0));
		ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - t0 < USEC_PER_SEC);
	}
	/* '?', classes; '*' never crosses '/' */
	ASSERT_TRUE(state_exclude_pattern_match("v?.[ch]", "v1.c", 0));
	ASSERT_FALSE(state_exclude_pattern_match("v?.[ch]", "v1.o", 0));
	ASSERT_FALSE(state_exclude_pattern_match("a/*", "a/b/c", 0));
	/* comments, blanks, trailing blanks, escapes */
	ASSERT_FALSE(state_exclude_pattern_match("# x", "# x", 0));
	ASSERT_FALSE(state_exclude_pattern_match("   ", "x", 0));
	ASSERT_TRUE(state_exclude_pattern_match("x.txt  ", "x.txt", 0));
	ASSERT_TRUE(state_exclude_pattern_match("\\#x", "#x", 0));
	ASSERT_TRUE(state_exclude_pattern_match("\\!x", "!x", 0));
	ASSERT_TRUE(state_exclude_pattern_match("x\r", "x", 0));
}

static char *tmpdir(void)
{
	char *d = xstrdup("/tmp/agentbox-test-exclude-XXXXXX");
	if (!mkdtemp(d))
		abort();
	return d;
}

static void put(const char *root, const char *rel, const char *text)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	char *slash = strrchr(p, '/');

	*slash = '\0';
	if (mkdir_p(p, 0755) < 0)
		abort();
	*slash = '/';
	if (write_file_atomic(p, text, strlen(text), 0644) < 0)
		abort();
}

struct file_sink {
	int fd;
};

static int sink_write(const void *data, size_t size, void *userdata)
{
	struct file_sink *k = userdata;
	return write(k->fd, data, size) == (ssize_t)size ? 0 : -EIO;
}

/* Archives root with x and extracts it under stage; 0 or -errno. */
static int roundtrip(const char *root, struct state_exclude *x, const char *stage, char **ret_bad)
{
	char *paths[] = {(char *)root, NULL};
	_cleanup_free_ char *arc = xasprintf("%s.tar.zst", stage), *err = NULL;
	struct file_sink k;
	struct tarball_stats st;
	int r, fd;

	k.fd = open(arc, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (k.fd < 0)
		return -errno;
	r = tarball_create(paths, x, 3, sink_write, &k, &st, ret_bad);
	close(k.fd);
	if (r < 0)
		return r;
	if (mkdir(stage, 0700) < 0)
		return -errno;
	fd = open(arc, O_RDONLY | O_CLOEXEC);
	r = tarball_extract_fd(fd, stage, paths, NULL, &st, &err);
	close(fd);
	unlink(arc);
	return r;
}

static int kept(const char *stage, const char *root, const char *rel)
{
	_cleanup_free_ char *p = xasprintf("%s%s/%s", stage, root, rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

#define CACHEDIR_SIG "Signature: 8a477f597d28d172789f06886806bc55\n# cargo\n"

TEST(walk)
{
	_cleanup_free_ char *d = tmpdir(), *root = xasprintf("%s/work", d),
			    *stage = xasprintf("%s/stage", d), *stage2 = xasprintf("%s/stage2", d),
			    *stage3 = xasprintf("%s/stage3", d);
	char *globs[] = {"*.secret", NULL};

	put(root, "app/src/main.c", "int main;\n");
	put(root, "app/node_modules/left-pad/index.js", "x\n");
	put(root, "app/.venv/bin/python", "x\n");
	put(root, "app/lib/__pycache__/m.cpython-311.pyc", "x\n");
	put(root, "app/old.pyc", "x\n");
	put(root, "app/node_modules.txt", "a file, not the directory\n");
	put(root, "app/target/debug/app", "binary\n");
	put(root, "app/target/CACHEDIR.TAG", CACHEDIR_SIG);
	put(root, "app/notatag/CACHEDIR.TAG", "Signature: wrong\n");
	put(root, "app/build/out.o", "x\n");
	put(root, "app/build/keep.me", "x\n");
	put(root, "app/logs/today.log", "x\n");
	put(root, "app/key.secret", "x\n");
	put(root, "app/vendor/node_modules/patched/x.js", "kept by !\n");
	put(root, "app/.agentboxignore",
	    "# project rules\n"
	    "/build/\n"
	    "!build/keep.me\n"
	    "*.log\n"
	    "\n");
	put(root, "app/vendor/.agentboxignore", "!node_modules/\n");
	put(root, "app/sub/.agentboxignore", "!*.log\n");
	put(root, "app/sub/x.log", "kept: the deeper file wins\n");
	put(root, "app/sub/build/y", "kept: /build/ is anchored at app/\n");

	{
		_cleanup_(state_exclude_freep) struct state_exclude *x =
		    state_exclude_new(globs, 1);
		ASSERT_OK(roundtrip(root, x, stage, NULL));
	}
	ASSERT_TRUE(kept(stage, root, "app/src/main.c"));
	ASSERT_TRUE(kept(stage, root, "app/.agentboxignore"));
	ASSERT_FALSE(kept(stage, root, "app/node_modules"));
	ASSERT_FALSE(kept(stage, root, "app/.venv"));
	ASSERT_FALSE(kept(stage, root, "app/lib/__pycache__"));
	ASSERT_TRUE(kept(stage, root, "app/lib"));
	ASSERT_FALSE(kept(stage, root, "app/old.pyc"));
	ASSERT_TRUE(kept(stage, root, "app/node_modules.txt"));
	ASSERT_FALSE(kept(stage, root, "app/target"));
	ASSERT_TRUE(kept(stage, root, "app/notatag/CACHEDIR.TAG"));
	/* an excluded directory is not walked: "!build/keep.me" cannot reach it */
	ASSERT_FALSE(kept(stage, root, "app/build"));
	ASSERT_FALSE(kept(stage, root, "app/logs/today.log"));
	ASSERT_TRUE(kept(stage, root, "app/logs"));
	ASSERT_FALSE(kept(stage, root, "app/key.secret"));
	ASSERT_TRUE(kept(stage, root, "app/vendor/node_modules/patched/x.js"));
	ASSERT_TRUE(kept(stage, root, "app/sub/x.log"));
	ASSERT_TRUE(kept(stage, root, "app/sub/build/y"));

	/* defaults off: only the globs and the ignore files */
	{
		_cleanup_(state_exclude_freep) struct state_exclude *x =
		    state_exclude_new(globs, 0);
		ASSERT_OK(roundtrip(root, x, stage2, NULL));
	}
	ASSERT_TRUE(kept(stage2, root, "app/node_modules/left-pad/index.js"));
	ASSERT_TRUE(kept(stage2, root, "app/target/debug/app"));
	ASSERT_TRUE(kept(stage2, root, "app/old.pyc"));
	ASSERT_FALSE(kept(stage2, root, "app/build"));
	ASSERT_FALSE(kept(stage2, root, "app/key.secret"));

	/* a pattern of too many '*' (each one a backtracking point of
	 * fnmatch) fails the walk */
	{
		_cleanup_(state_exclude_freep) struct state_exclude *x = state_exclude_new(NULL, 1);
		_cleanup_free_ char *bad = NULL, *s4 = xasprintf("%s/stage4", d);
		put(root, "app/sub/.agentboxignore", "ok\n*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*\n");
		ASSERT_ERR(roundtrip(root, x, s4, &bad), -E2BIG);
		ASSERT_STR_CONTAINS(bad, "app/sub/.agentboxignore");
	}
	/* an ignore file that cannot be read fails the walk, naming it */
	{
		_cleanup_(state_exclude_freep) struct state_exclude *x = state_exclude_new(NULL, 1);
		_cleanup_free_ char *big = xmalloc(STATE_IGNORE_FILE_MAX + 2), *bad = NULL;
		_cleanup_free_ char *want = xasprintf("%s/app/sub/.agentboxignore", root);
		memset(big, '#', STATE_IGNORE_FILE_MAX + 1);
		big[STATE_IGNORE_FILE_MAX + 1] = '\0';
		put(root, "app/sub/.agentboxignore", big);
		ASSERT_ERR(roundtrip(root, x, stage3, &bad), -EFBIG);
		ASSERT_STR_EQ(bad, want);
	}
	ASSERT_OK(rm_rf(d));
}

TEST(state_path_itself_is_never_defaulted_out)
{
	_cleanup_free_ char *d = tmpdir(), *root = xasprintf("%s/node_modules", d),
			    *stage = xasprintf("%s/stage", d);
	_cleanup_(state_exclude_freep) struct state_exclude *x = state_exclude_new(NULL, 1);

	put(root, "a", "x\n");
	ASSERT_OK(roundtrip(root, x, stage, NULL));
	ASSERT_TRUE(kept(stage, root, "a"));
	ASSERT_OK(rm_rf(d));
}
