/* Child processes of the monitor; see monitor-child.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
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

int monitor_child_spawn(char *const argv[], pid_t *ret_pid, int *ret_stdin, int *ret_stdout)
{
	int in[2] = {-1, -1}, out[2];
	posix_spawn_file_actions_t fa;
	char **env;
	int r;

	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (ret_stdin && pipe2(in, O_CLOEXEC) < 0) {
		r = -errno;
		close(out[0]);
		close(out[1]);
		return r;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	if (ret_stdin)
		posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	else
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	env = monitor_child_env();
	r = -posix_spawn(ret_pid, argv[0], &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	monitor_child_env_free(env);
	close(out[1]);
	if (ret_stdin)
		close(in[0]);
	if (r < 0) {
		close(out[0]);
		if (ret_stdin)
			close(in[1]);
		return r;
	}
	*ret_stdout = out[0];
	if (ret_stdin)
		*ret_stdin = in[1];
	return 0;
}
