/* Child processes of the monitor; see monitor-child.h. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "monitor-child.h"

extern char **environ;

char *monitor_client_path(void)
{
	const char *e = getenv("AGENTBOX_CLIENT");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (e && *e)
		return xstrdup(e);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return xstrdup("/usr/bin/agentbox");
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	return xasprintf("%s/agentbox", self);
}

char **monitor_child_env(void)
{
	static const char *const passed[] = {"CREDENTIALS_DIRECTORY=", "JOURNAL_STREAM=",
					     "AGENTBOX_LOG", "AGENTBOX_INSTANCE_ID=",
					     "AGENTBOX_IMDS_URL="};
	size_t n = 0, max = 8;
	char **env = xcalloc(max + 1, sizeof(char *));

	env[n++] = xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	for (char **e = environ; *e && n < max; e++)
		for (size_t i = 0; i < ELEMENTSOF(passed); i++)
			if (startswith(*e, passed[i])) {
				env[n++] = xstrdup(*e);
				break;
			}
	return env;
}

void monitor_child_env_free(char **env)
{
	for (char **e = env; e && *e; e++)
		free(*e);
	free(env);
}
