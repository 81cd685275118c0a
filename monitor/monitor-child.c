/* Child jobs of the monitor; see monitor-child.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

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

void child_job_init(struct child_job *j)
{
	memset(j, 0, sizeof(*j));
	j->out_fd = -1;
}

int child_job_start(struct child_job *j, char *const argv[], const char *input)
{
	int in[2] = {-1, -1}, out[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	char **env;
	pid_t pid;
	int r;

	if (j->pid)
		return -EBUSY;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (input && pipe2(in, O_CLOEXEC) < 0) {
		r = -errno;
		close(out[0]);
		close(out[1]);
		return r;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	if (input)
		posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	else
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	/* The daemon blocks SIGTERM, SIGINT and SIGHUP (it reads them from a
	 * signalfd): a child inheriting that mask would ignore the SIGTERM
	 * that stops it. Children start with no signal blocked, and defaults. */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	env = monitor_child_env();
	r = -posix_spawn(&pid, argv[0], &fa, &attr, argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	monitor_child_env_free(env);
	close(out[1]);
	if (input)
		close(in[0]);
	if (r < 0) {
		close(out[0]);
		if (input)
			close(in[1]);
		return r;
	}
	if (input) {
		/* Far smaller than a pipe's buffer: never blocks. A short write
		 * shows as the child's own complaint about its request. */
		if (write(in[1], input, strlen(input)) < 0) {
		}
		close(in[1]);
	}
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	child_job_init(j);
	j->pid = pid;
	j->out_fd = out[0];
	return 0;
}

int child_job_fd(const struct child_job *j)
{
	return j->pid ? j->out_fd : -1;
}

/* Reaps the child, waiting at most 1 s: it has closed its output and is
 * on its way out. 1 when reaped. */
static int child_job_reap(struct child_job *j, int wait_ms)
{
	for (int i = 0; i <= wait_ms; i++) {
		pid_t p = waitpid(j->pid, &j->status, WNOHANG);
		if (p == j->pid || (p < 0 && errno == ECHILD)) {
			if (p < 0)
				j->status = W_EXITCODE(127, 0);
			j->pid = 0;
			return 1;
		}
		if (i < wait_ms)
			usleep(1000);
	}
	return 0;
}

int child_job_poll(struct child_job *j)
{
	int was_open = j->out_fd >= 0;

	if (!j->pid)
		return 0;
	while (j->out_fd >= 0) {
		char drop[512];
		char *buf = j->out_len < sizeof(j->out) - 1 ? j->out + j->out_len : drop;
		size_t room = j->out_len < sizeof(j->out) - 1 ? sizeof(j->out) - 1 - j->out_len
							     : sizeof(drop);
		ssize_t n = read(j->out_fd, buf, room);

		if (n > 0) {
			if (buf != drop)
				j->out_len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0; /* more to come */
		close(j->out_fd); /* the end, or an error: the exit status tells */
		j->out_fd = -1;
	}
	j->out[j->out_len] = '\0';
	/* at the end of its output, wait for its exit; later, just look */
	return child_job_reap(j, was_open ? 1000 : 0);
}

cJSON *child_job_result(const struct child_job *j, const char *what, char *why, size_t size)
{
	cJSON *o;

	if (WIFSIGNALED(j->status)) {
		snprintf(why, size, "%s killed by signal %d", what, WTERMSIG(j->status));
		return NULL;
	}
	if (WEXITSTATUS(j->status) != 0) {
		snprintf(why, size, "%s exited with %d (see its journal lines)", what,
			 WEXITSTATUS(j->status));
		return NULL;
	}
	o = cJSON_Parse(j->out);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		snprintf(why, size, "%s gave no result; is agentbox the same build as "
				    "agentbox-monitor?",
			 what);
		return NULL;
	}
	return o;
}

void child_job_stop(struct child_job *j)
{
	if (j->pid) {
		kill(j->pid, SIGTERM);
		/* bounded: the monitor must stop within 2 s */
		if (!child_job_reap(j, 1500)) {
			kill(j->pid, SIGKILL);
			while (waitpid(j->pid, &j->status, 0) < 0 && errno == EINTR)
				;
			j->pid = 0;
		}
	}
	if (j->out_fd >= 0)
		close(j->out_fd);
	j->out_fd = -1;
}
