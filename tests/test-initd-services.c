/* agentbox-init's runtime drop-ins: User= for the units that run as the
 * workspace user, ReadWritePaths= for the monitor; written once, unchanged
 * on a second run, rewritten when the config changes, refused for a path a
 * unit file cannot hold as it is. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "config.h"
#include "fileio.h"
#include "initd.h"
#include "macro.h"
#include "tests.h"

/* A config from JSON (loaded over the defaults, not finished: no user
 * lookup). */
static struct config *config_of(const char *json)
{
	struct config *c = config_new();
	_cleanup_free_ char *error = NULL;

	if (config_load_string(c, json, "t.json", &error) < 0) {
		fprintf(stderr, "config: %s\n", error);
		abort();
	}
	return c;
}

static char *dropin(const char *dir, const char *unit)
{
	_cleanup_free_ char *path = xasprintf("%s/%s.service.d/50-agentbox-user.conf", dir, unit);
	char *text = NULL;

	if (read_file(path, 4096, &text, NULL) < 0)
		return NULL;
	return text;
}

TEST(dropins_written_then_unchanged)
{
	char dir[] = "/tmp/agentbox-test-dropins.XXXXXX";
	_cleanup_(config_freep) struct config *alice =
	    config_of("{\"workspace\": {\"user\": \"alice\"}}");
	_cleanup_(config_freep) struct config *bob =
	    config_of("{\"workspace\": {\"user\": \"bob\"}, \"runtime_dir\": \"/run/ab-2\", "
		      "\"state_dir\": \"/srv/agentbox.state\"}");
	_cleanup_free_ char *text = NULL, *path = NULL, *cmd = NULL;
	struct stat st;
	int changed = -1;

	ASSERT_NOT_NULL(mkdtemp(dir));
	ASSERT_OK(initd_services_write_dropins(dir, alice, &changed));
	ASSERT_INT_EQ(changed, 1);
	text = dropin(dir, "agentbox-xvfb");
	ASSERT_NOT_NULL(text);
	ASSERT_STR_CONTAINS(text, "[Service]\nUser=alice\n");
	free(text);
	text = dropin(dir, "agentbox-display");
	ASSERT_NOT_NULL(text);
	ASSERT_STR_CONTAINS(text, "[Service]\nUser=alice\n");
	free(text);
	text = dropin(dir, "agentbox-monitor");
	ASSERT_NOT_NULL(text);
	ASSERT_STR_CONTAINS(text, "[Service]\nReadWritePaths=/run/agentbox /var/lib/agentbox\n");
	path = xasprintf("%s/agentbox-monitor.service.d/50-agentbox-user.conf", dir);
	ASSERT_OK(stat(path, &st));
	ASSERT_INT_EQ(st.st_mode & 07777, 0644);

	/* the same config again: nothing to reload */
	ASSERT_OK(initd_services_write_dropins(dir, alice, &changed));
	ASSERT_INT_EQ(changed, 0);
	/* another user and other paths: rewritten */
	ASSERT_OK(initd_services_write_dropins(dir, bob, &changed));
	ASSERT_INT_EQ(changed, 1);
	free(text);
	text = dropin(dir, "agentbox-display");
	ASSERT_NOT_NULL(text);
	ASSERT_STR_CONTAINS(text, "User=bob\n");
	free(text);
	text = dropin(dir, "agentbox-monitor");
	ASSERT_NOT_NULL(text);
	ASSERT_STR_CONTAINS(text, "ReadWritePaths=/run/ab-2 /srv/agentbox.state\n");

	cmd = xasprintf("rm -rf '%s'", dir);
	ASSERT_INT_EQ(system(cmd), 0);
}

TEST(dropins_refuse_paths_a_unit_cannot_hold)
{
	static const char *const bad[] = {
	    "{\"state_dir\": \"/var/lib/agent box\"}",
	    "{\"runtime_dir\": \"/run/a%n\"}",
	    "{\"runtime_dir\": \"/run/a\\nExecStartPre=/bin/sh\"}",
	    "{\"state_dir\": \"/var/lib/\\\"q\"}",
	};
	char dir[] = "/tmp/agentbox-test-dropins.XXXXXX";
	_cleanup_free_ char *cmd = NULL, *text = NULL;
	int changed = -1;

	ASSERT_NOT_NULL(mkdtemp(dir));
	for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
		_cleanup_(config_freep) struct config *c = config_of(bad[k]);

		ASSERT_ERR(initd_services_write_dropins(dir, c, &changed), -EINVAL);
	}
	/* nothing half-written */
	text = dropin(dir, "agentbox-monitor");
	ASSERT_TRUE(text == NULL);
	cmd = xasprintf("rm -rf '%s'", dir);
	ASSERT_INT_EQ(system(cmd), 0);
}

TEST(dropins_unwritable_dir_is_an_error)
{
	_cleanup_(config_freep) struct config *c = config_of("{}");
	int changed = -1;

	/* a regular file where the unit directory should be */
	ASSERT_TRUE(initd_services_write_dropins("/dev/null", c, &changed) < 0);
}
