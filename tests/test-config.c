/* Config parsing: defaults, every type, and the promised error lines. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "macro.h"
#include "tests.h"

/* Loads json over defaults; returns the error line or NULL. */
static char *load(const char *json, struct config **ret)
{
	struct config *c = config_new();
	char *error = NULL;

	if (config_load_string(c, json, "t.json", &error) < 0) {
		config_free(c);
		*ret = NULL;
		return error;
	}
	*ret = c;
	return NULL;
}

#define ASSERT_REFUSED(json, msg)                                                                  \
	do {                                                                                       \
		struct config *_c;                                                                 \
		_cleanup_free_ char *_e = load(json, &_c);                                          \
		ASSERT_NOT_NULL(_e);                                                               \
		ASSERT_STR_CONTAINS(_e, msg);                                                      \
		ASSERT_TRUE(strchr(_e, '\n') == NULL);                                             \
	} while (0)

TEST(defaults)
{
	_cleanup_(config_freep) struct config *c = config_new();

	ASSERT_UINT_EQ(c->idle_timeout, 30 * USEC_PER_MINUTE);
	ASSERT_UINT_EQ(c->idle_boot_grace, 10 * USEC_PER_MINUTE);
	ASSERT_UINT_EQ(c->idle_max_lifetime, 0);
	ASSERT_UINT_EQ(c->idle_warn_before, 5 * USEC_PER_MINUTE);
	ASSERT_INT_EQ(c->idle_action, IDLE_ACTION_NONE);
	ASSERT_STR_EQ(c->runtime_dir, "/run/agentbox");
	ASSERT_STR_EQ(c->idle_agent_names[0], "claude");
	ASSERT_INT_EQ(c->idle_ports.n, 3);
	ASSERT_INT_EQ(c->idle_ports.port[0], 22);
	ASSERT_TRUE(c->idle_watch_paths == NULL);
}

TEST(nested_and_dotted)
{
	struct config *c;
	_cleanup_free_ char *e = load("{\"idle\": {\"timeout\": \"2h\", \"action\": \"poweroff\"},"
				      " \"idle.warn_before\": \"90s\","
				      " \"idle\": {\"ports\": [2222]}}",
				      &c);
	/* the same section twice is refused as a duplicate key */
	ASSERT_NOT_NULL(e);
	ASSERT_STR_CONTAINS(e, "idle: given twice");

	free(e);
	e = load("{\"idle\": {\"timeout\": \"2h\", \"action\": \"poweroff\", \"ports\": [2222]},"
		 " \"idle.warn_before\": \"90s\", \"workspace\": {\"home\": \"/home/x\"}}",
		 &c);
	ASSERT_TRUE(e == NULL);
	ASSERT_UINT_EQ(c->idle_timeout, 2 * USEC_PER_HOUR);
	ASSERT_UINT_EQ(c->idle_warn_before, 90 * USEC_PER_SEC);
	ASSERT_INT_EQ(c->idle_action, IDLE_ACTION_POWEROFF);
	ASSERT_INT_EQ(c->idle_ports.n, 1);
	ASSERT_INT_EQ(c->idle_ports.port[0], 2222);
	{
		_cleanup_free_ char *error = NULL;
		ASSERT_OK(config_finish(c, &error));
		ASSERT_STR_EQ(c->idle_watch_paths[0], "/home/x");
	}
	config_free(c);
}

TEST(refuses_with_key_and_reason)
{
	ASSERT_REFUSED("{\"idle\": {\"timout\": \"30m\"}}", "t.json: idle.timout: unknown key");
	ASSERT_REFUSED("{\"bogus\": 1}", "t.json: bogus: unknown key");
	ASSERT_REFUSED("{\"idle\": {\"timeout\": 30}}", "idle.timeout: expected a duration string");
	ASSERT_REFUSED("{\"idle\": {\"timeout\": \"30 minutes\"}}",
		       "idle.timeout: expected a duration such as");
	ASSERT_REFUSED("{\"idle\": {\"timeout\": \"0s\"}}", "idle.timeout: \"0s\" is out of range");
	ASSERT_REFUSED("{\"idle\": {\"timeout\": \"off\"}}", "idle.timeout: expected a duration");
	ASSERT_REFUSED("{\"idle\": {\"action\": \"destroy\"}}",
		       "idle.action: expected one of \"none\", \"poweroff\", \"delete\"");
	ASSERT_REFUSED("{\"idle\": {\"ports\": [22, 70000]}}", "idle.ports: expected port numbers");
	ASSERT_REFUSED("{\"idle\": {\"ports\": \"22\"}}", "idle.ports: expected a list");
	ASSERT_REFUSED("{\"idle\": {\"cpu_threshold\": -1}}", "idle.cpu_threshold: -1 is out of range");
	ASSERT_REFUSED("{\"idle\": {\"watch_paths\": [\"relative/dir\"]}}",
		       "idle.watch_paths: expected absolute paths");
	ASSERT_REFUSED("{\"idle\": {\"wall\": \"yes\"}}", "idle.wall: expected true or false");
	ASSERT_REFUSED("{\"idle\": 5}", "idle: expected an object");
	ASSERT_REFUSED("{\"runtime_dir\": \"run/agentbox\"}", "runtime_dir: expected an absolute path");
	ASSERT_REFUSED("{\"workspace\": {\"user\": \"a b\"}}", "workspace.user: expected a name");
	ASSERT_REFUSED("{\"idle\": {\"timeout\": \"1m\"},", "line 1: not valid JSON");
	ASSERT_REFUSED("{\n\"idle\":\n {\"timeout\" \"1m\"}}", "line 3: not valid JSON");
	ASSERT_REFUSED("[1, 2]", "expected a JSON object at the top");
}

TEST(max_lifetime_off)
{
	struct config *c;
	_cleanup_free_ char *e = load("{\"idle\": {\"max_lifetime\": \"8h\"}}", &c);

	ASSERT_TRUE(e == NULL);
	ASSERT_UINT_EQ(c->idle_max_lifetime, 8 * USEC_PER_HOUR);
	config_free(c);
	ASSERT_TRUE(load("{\"idle\": {\"max_lifetime\": \"off\"}}", &c) == NULL);
	ASSERT_UINT_EQ(c->idle_max_lifetime, 0);
	config_free(c);
}

TEST(finish_checks_relations)
{
	struct config *c;
	_cleanup_free_ char *e = load("{\"idle\": {\"timeout\": \"5m\", \"warn_before\": \"5m\"},"
				      " \"workspace\": {\"home\": \"/tmp\"}}",
				      &c);
	_cleanup_free_ char *error = NULL;

	ASSERT_TRUE(e == NULL);
	ASSERT_TRUE(config_finish(c, &error) < 0);
	ASSERT_STR_CONTAINS(error, "idle.warn_before: must be shorter than idle.timeout");
	config_free(c);
}

/* workspace.memory: shares, sizes, "none", and the refused forms. */
TEST(memory_limit)
{
	const uint64_t gib = 1ULL << 30;
	uint64_t m = 1;

	ASSERT_OK(config_memory_limit("90%", 10 * gib, &m));
	ASSERT_UINT_EQ(m, 9 * gib);
	ASSERT_OK(config_memory_limit("100%", gib, &m));
	ASSERT_UINT_EQ(m, gib);
	ASSERT_OK(config_memory_limit("512m", 0, &m));
	ASSERT_UINT_EQ(m, 512ULL << 20);
	ASSERT_OK(config_memory_limit("1.5G", 0, &m));
	ASSERT_UINT_EQ(m, 3 * gib / 2);
	ASSERT_OK(config_memory_limit("2t", 0, &m));
	ASSERT_UINT_EQ(m, 2048 * gib);
	ASSERT_OK(config_memory_limit("4194304", 0, &m));
	ASSERT_UINT_EQ(m, 4194304);
	ASSERT_OK(config_memory_limit("none", gib, &m));
	ASSERT_UINT_EQ(m, 0);
	ASSERT_ERR(config_memory_limit("0", gib, &m), -EINVAL);
	ASSERT_ERR(config_memory_limit("4194303", gib, &m), -EINVAL); /* below 4 MiB */
	ASSERT_ERR(config_memory_limit("3m", gib, &m), -EINVAL);
	ASSERT_ERR(config_memory_limit("0%", gib, &m), -EINVAL);
	ASSERT_ERR(config_memory_limit("101%", gib, &m), -EINVAL);
	ASSERT_ERR(config_memory_limit("8gb", gib, &m), -EINVAL);
	ASSERT_ERR(config_memory_limit("8x", gib, &m), -EINVAL);
	ASSERT_ERR(config_memory_limit("-1g", gib, &m), -EINVAL);
	ASSERT_ERR(config_memory_limit(" 1g", gib, &m), -EINVAL);
	ASSERT_ERR(config_memory_limit("lots", gib, &m), -EINVAL);
	ASSERT_ERR(config_memory_limit("1e30", gib, &m), -EINVAL);
}

TEST(sandbox_keys)
{
	struct config *c;
	_cleanup_free_ char *e =
	    load("{\"workspace\": {\"home\": \"/tmp\", \"cpus\": 1.5, "
		 "\"memory\": \"8g\", \"pids_limit\": 100, "
		 "\"cap_add\": [\"NET_BIND_SERVICE\"], \"block_metadata\": false}}",
		 &c);
	_cleanup_free_ char *error = NULL;

	ASSERT_TRUE(e == NULL);
	ASSERT_OK(config_finish(c, &error));
	ASSERT_TRUE(c->workspace_cpus == 1.5);
	ASSERT_STR_EQ(c->workspace_memory, "8g");
	ASSERT_TRUE(c->workspace_pids_limit == 100);
	ASSERT_STR_EQ(c->workspace_cap_add[0], "NET_BIND_SERVICE");
	ASSERT_INT_EQ(c->workspace_block_metadata, 0);
	config_free(c);

	ASSERT_REFUSED("{\"workspace\": {\"cpus\": -1}}", "workspace.cpus");
	ASSERT_REFUSED("{\"workspace\": {\"block_metadata\": \"yes\"}}",
		       "workspace.block_metadata");
	free(e);
	e = load("{\"workspace\": {\"home\": \"/tmp\", \"memory\": \"8 GB\"}}", &c);
	ASSERT_TRUE(e == NULL);
	ASSERT_TRUE(config_finish(c, &error) < 0);
	ASSERT_STR_CONTAINS(error, "workspace.memory: expected a share");
	config_free(c);
	free(error);
	e = NULL;
	error = NULL;
	e = load("{\"workspace\": {\"home\": \"/tmp\", \"pids_limit\": 1.5}}", &c);
	ASSERT_TRUE(e == NULL);
	ASSERT_TRUE(config_finish(c, &error) < 0);
	ASSERT_STR_CONTAINS(error, "workspace.pids_limit: must be a whole number");
	config_free(c);
}

TEST(finish_unknown_user)
{
	struct config *c;
	_cleanup_free_ char *e = load("{\"workspace\": {\"user\": \"no-such-user-xyz\"}}", &c);
	_cleanup_free_ char *error = NULL;

	ASSERT_TRUE(e == NULL);
	ASSERT_TRUE(config_finish(c, &error) < 0);
	ASSERT_STR_CONTAINS(error, "workspace.user 'no-such-user-xyz' has no home");
	config_free(c);
}

/* finish() on json: the error line, or NULL (the config is freed). */
static char *finish(const char *json)
{
	struct config *c;
	char *error = load(json, &c);

	if (!error && config_finish(c, &error) >= 0)
		error = NULL;
	config_free(c);
	return error;
}

TEST(state_paths_overlap)
{
	_cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL, *e6 = NULL;
	struct config *c;

	e1 = finish("{\"workspace\": {\"home\": \"/h\"}, \"state\": {\"paths\": "
		    "[\"/h/a\", \"/h/b\", \"/h/a\"]}}");
	ASSERT_STR_CONTAINS(e1, "state.paths: \"/h/a\" is given twice");
	e2 = finish("{\"workspace\": {\"home\": \"/h\"}, \"state\": {\"paths\": "
		    "[\"/h/a/deep/x\", \"/h/b\", \"/h/a.json\", \"/h/a\"]}}");
	ASSERT_STR_CONTAINS(e2, "\"/h/a/deep/x\" is inside \"/h/a\"");
	/* spelled differently, still the same path */
	e3 = finish("{\"workspace\": {\"home\": \"/h\"}, \"state\": {\"paths\": "
		    "[\"/h//a/\", \"/h/a\"]}}");
	ASSERT_STR_CONTAINS(e3, "\"/h/a\" is given twice");
	e4 = finish("{\"workspace\": {\"home\": \"/h\"}, \"state\": {\"paths\": "
		    "[\"/h/x\", \"/\"]}}");
	ASSERT_STR_CONTAINS(e4, "\"/h/x\" is inside \"/\"");
	e5 = finish("{\"workspace\": {\"home\": \"/h\"}, \"state\": {\"paths\": "
		    "[\"/h/a/../b\"]}}");
	ASSERT_STR_CONTAINS(e5, "'..' component");
	/* neighbours by name are not inside each other */
	e6 = finish("{\"workspace\": {\"home\": \"/h\"}, \"state\": {\"paths\": "
		    "[\"/h/.claude\", \"/h/.claude.json\", \"/h/.claude-x/y\", \"/h/.claude0\"]}}");
	ASSERT_TRUE(e6 == NULL);
	/* the defaults pass, and a trailing '/' is dropped */
	ASSERT_TRUE(load("{\"workspace\": {\"home\": \"/h\"}, \"state\": {\"paths\": "
			 "[\"/h/d/\"]}}",
			 &c) == NULL);
	{
		_cleanup_free_ char *error = NULL;
		ASSERT_OK(config_finish(c, &error));
		ASSERT_STR_EQ(c->state_paths[0], "/h/d");
	}
	config_free(c);
}

/* Finishes json's config into *ret (freed by the caller). */
static void finished(const char *json, struct config **ret)
{
	_cleanup_free_ char *error = NULL;

	ASSERT_TRUE(load(json, ret) == NULL);
	ASSERT_OK(config_finish(*ret, &error));
}

TEST(default_state_paths_and_projects_dir)
{
	struct config *c = NULL;

	/* the agent's state and the projects directory, <home>/work */
	finished("{\"workspace\": {\"home\": \"/h\"}}", &c);
	ASSERT_STR_EQ(c->workspace_projects_dir, "/h/work");
	ASSERT_STR_EQ(c->state_paths[0], "/h/.claude");
	ASSERT_STR_EQ(c->state_paths[1], "/h/.claude.json");
	ASSERT_STR_EQ(c->state_paths[2], "/h/work");
	ASSERT_TRUE(c->state_paths[3] == NULL);
	ASSERT_TRUE(c->idle_watch_paths[1] == NULL);
	ASSERT_TRUE(c->state_exclude_defaults);
	ASSERT_TRUE(c->state_encryption_key_file == NULL);
	c = config_free(c);
	/* projects elsewhere */
	finished("{\"workspace\": {\"home\": \"/h\", \"projects_dir\": \"/srv/p\"},"
		 " \"state\": {\"exclude_defaults\": false,"
		 " \"encryption\": {\"key_file\": \"/etc/agentbox/state.key\"}}}",
		 &c);
	ASSERT_STR_EQ(c->state_paths[2], "/srv/p");
	ASSERT_STR_EQ(c->idle_watch_paths[0], "/h");
	ASSERT_STR_EQ(c->idle_watch_paths[1], "/srv/p");
	ASSERT_FALSE(c->state_exclude_defaults);
	ASSERT_STR_EQ(c->state_encryption_key_file, "/etc/agentbox/state.key");
	c = config_free(c);
	/* the home as the projects directory holds the agent's state: it alone */
	finished("{\"workspace\": {\"home\": \"/h\", \"projects_dir\": \"/h\"}}", &c);
	ASSERT_STR_EQ(c->state_paths[0], "/h");
	ASSERT_TRUE(c->state_paths[1] == NULL);
	c = config_free(c);
	/* projects inside ~/.claude: kept with it */
	finished("{\"workspace\": {\"home\": \"/h\", \"projects_dir\": \"/h/.claude/w\"}}", &c);
	ASSERT_STR_EQ(c->state_paths[0], "/h/.claude");
	ASSERT_STR_EQ(c->state_paths[1], "/h/.claude.json");
	ASSERT_TRUE(c->state_paths[2] == NULL);
	c = config_free(c);
	/* a relative projects directory is refused */
	ASSERT_REFUSED("{\"workspace\": {\"projects_dir\": \"work\"}}", "workspace.projects_dir");
}

TEST(dotted_beside_nested_refused)
{
	ASSERT_REFUSED(
	    "{\"idle.timeout\": \"1h\", \"idle\": {\"timeout\": \"2h\"}}",
	    "idle.timeout: given twice (as \"idle.timeout\" and as \"idle\" > \"timeout\")");
	ASSERT_REFUSED("{\"state\": {\"storage\": {\"bucket\": \"a\"}},"
		       " \"state.storage.bucket\": \"b\"}",
		       "state.storage.bucket: given twice");
	ASSERT_REFUSED("{\"state\": {\"storage.bucket\": \"a\", \"storage\": {\"bucket\": \"b\"}}}",
		       "state.storage.bucket: given twice");
	ASSERT_REFUSED("{\"idle\": {\"timeout\": \"1h\", \"timeout\": \"2h\"}}",
		       "idle.timeout: given twice");
	ASSERT_REFUSED("{\"state.storage\": {\"bucket\": \"a\"}, \"state\": {\"storage\": {}}}",
		       "state.storage: given twice");
}

/* 80,000 keys in 0.9 MiB took 10 s with the pairwise duplicate check;
 * and a document over 1 MiB is refused whatever its source. */
TEST(large_configs_fast_and_capped)
{
	size_t cap = CONFIG_MAX_SIZE + 64, len = 0;
	_cleanup_free_ char *big = xmalloc(cap + 1), *dup = xmalloc(cap + 1);
	struct timespec a, b;
	struct config *c;

	len += (size_t)snprintf(big + len, cap - len, "{");
	for (int i = 0; i < 80000; i++)
		len += (size_t)snprintf(big + len, cap - len, "%s\"%x\":0", i ? "," : "", i);
	len += (size_t)snprintf(big + len, cap - len, "}");
	ASSERT_TRUE(len < CONFIG_MAX_SIZE);
	/* the same valid key 80,000 times */
	len = (size_t)snprintf(dup, cap, "{\"idle\": {");
	for (int i = 0; i < 80000; i++)
		len += (size_t)snprintf(dup + len, cap - len, "%s\"wall\":true", i ? "," : "");
	len += (size_t)snprintf(dup + len, cap - len, "}}");
	clock_gettime(CLOCK_MONOTONIC, &a);
	{
		_cleanup_free_ char *e1 = load(big, &c), *e2 = load(dup, &c);
		ASSERT_STR_CONTAINS(e1, "unknown key");
		ASSERT_STR_CONTAINS(e2, "idle.wall: given twice");
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ASSERT_TRUE((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 2000);

	memset(big, ' ', cap);
	big[0] = '{';
	big[cap - 1] = '}';
	big[cap] = '\0';
	{
		_cleanup_free_ char *e = load(big, &c);
		ASSERT_STR_CONTAINS(e, "larger than 1 MiB");
	}
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A FIFO where a secret file should be: refused at once, not waited on. */
TEST(secret_fifo_refused)
{
	char dir[] = "/tmp/agentbox-test-XXXXXX";
	_cleanup_free_ char *path = NULL, *secret = NULL;
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	const char *why = NULL;
	int r;

	ASSERT_NOT_NULL(mkdtemp(dir));
	path = xasprintf("%s/fifo", dir);
	ASSERT_OK(mkfifo(path, 0600));
	/* without SA_RESTART: a blocking open fails with EINTR after 3 s */
	sigaction(SIGALRM, &sa, &old);
	alarm(3);
	r = read_secret(path, &secret, &why);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	unlink(path);
	rmdir(dir);
	ASSERT_ERR(r, -EINVAL);
	ASSERT_STR_CONTAINS(why, "is a FIFO");
}

TEST(to_json_round_trips)
{
	_cleanup_(config_freep) struct config *c = config_new();
	_cleanup_(config_freep) struct config *d = config_new();
	_cleanup_free_ char *json = NULL, *error = NULL, *again = NULL;

	c->idle_timeout = 90 * USEC_PER_MINUTE;
	json = config_to_json(c);
	ASSERT_OK(config_load_string(d, json, "dump", &error));
	ASSERT_UINT_EQ(d->idle_timeout, 90 * USEC_PER_MINUTE);
	again = config_to_json(d);
	ASSERT_STR_EQ(json, again);
}

TEST(every_key_documented)
{
	_cleanup_free_ char *doc = NULL;

	ASSERT_OK(read_file("docs/configuration.md", 1 << 20, &doc, NULL));
	for (const char *const *k = config_key_names(); *k; k++) {
		char needle[128];
		snprintf(needle, sizeof(needle), "`%s`", *k);
		ASSERT_STR_CONTAINS(doc, needle);
	}
}

TEST(secret_file_modes)
{
	char dir[] = "/tmp/agentbox-test-XXXXXX";
	_cleanup_free_ char *path = NULL, *secret = NULL;
	const char *why;
	int fd;

	ASSERT_NOT_NULL(mkdtemp(dir));
	path = xasprintf("%s/token", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ASSERT_TRUE(fd >= 0);
	ASSERT_INT_EQ(write(fd, "s3cr3t\n", 7), 7);
	close(fd);
	ASSERT_ERR(read_secret(path, &secret, &why), -EPERM);
	ASSERT_STR_CONTAINS(why, "chmod 0600");
	ASSERT_OK(chmod(path, 0600));
	ASSERT_OK(read_secret(path, &secret, &why));
	ASSERT_STR_EQ(secret, "s3cr3t");
	freezero_str(TAKE_PTR(secret));
	/* a bare name is a systemd credential */
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	ASSERT_OK(read_secret("token", &secret, &why));
	ASSERT_STR_EQ(secret, "s3cr3t");
	unsetenv("CREDENTIALS_DIRECTORY");
	ASSERT_TRUE(read_secret("token", &secret, &why) < 0);
	ASSERT_STR_CONTAINS(why, "CREDENTIALS_DIRECTORY");
	unlink(path);
	rmdir(dir);
}
