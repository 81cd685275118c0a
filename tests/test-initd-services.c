/* agentbox-init's User= drop-ins for the units that run as the workspace
 * user: written once, unchanged on a second run, rewritten for a new user. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fileio.h"
#include "initd.h"
#include "macro.h"
#include "tests.h"

TEST(dropins_written_then_unchanged)
{
	char dir[] = "/tmp/agentbox-test-dropins.XXXXXX";
	_cleanup_free_ char *text = NULL, *path = NULL, *cmd = NULL;
	struct stat st;
	int changed = -1;

	ASSERT_NOT_NULL(mkdtemp(dir));
	ASSERT_OK(initd_services_write_dropins(dir, "alice", &changed));
	ASSERT_INT_EQ(changed, 1);
	path = xasprintf("%s/agentbox-xvfb.service.d/50-agentbox-user.conf", dir);
	ASSERT_OK(read_file(path, 4096, &text, NULL));
	ASSERT_STR_CONTAINS(text, "[Service]\nUser=alice\n");
	ASSERT_OK(stat(path, &st));
	ASSERT_INT_EQ(st.st_mode & 07777, 0644);
	free(path);
	free(text);
	text = NULL;
	path = xasprintf("%s/agentbox-display.service.d/50-agentbox-user.conf", dir);
	ASSERT_OK(read_file(path, 4096, &text, NULL));
	ASSERT_STR_CONTAINS(text, "User=alice\n");

	/* the same user again: nothing to reload */
	ASSERT_OK(initd_services_write_dropins(dir, "alice", &changed));
	ASSERT_INT_EQ(changed, 0);
	/* another user: rewritten */
	ASSERT_OK(initd_services_write_dropins(dir, "bob", &changed));
	ASSERT_INT_EQ(changed, 1);
	free(text);
	text = NULL;
	ASSERT_OK(read_file(path, 4096, &text, NULL));
	ASSERT_STR_CONTAINS(text, "User=bob\n");

	cmd = xasprintf("rm -rf '%s'", dir);
	ASSERT_INT_EQ(system(cmd), 0);
}

TEST(dropins_unwritable_dir_is_an_error)
{
	int changed = -1;

	/* a regular file where the unit directory should be */
	ASSERT_TRUE(initd_services_write_dropins("/dev/null", "alice", &changed) < 0);
}
