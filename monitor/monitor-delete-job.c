/* The daemon side of the delete jobs; see monitor-delete-job.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "macro.h"
#include "monitor-child.h"
#include "monitor-delete-job.h"

static const char *const kind_names[] = {"none", "identify", "backup", "delete"};

const char *delete_job_kind_to_string(enum job_kind kind)
{
	return kind <= JOB_DELETE ? kind_names[kind] : "unknown";
}

static int read_full(int fd, void *buf, size_t size)
{
	char *p = buf;

	while (size > 0) {
		ssize_t n = read(fd, p, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		size -= (size_t)n;
	}
	return 0;
}

int delete_job_spawn(const struct config *c, enum job_kind kind,
		     const struct provider_identity *expect, pid_t *ret_pid,
		     struct delete_job_out *ret)
{
	_cleanup_free_ char *client = monitor_client_path();
	const char *config = c->path ? c->path : CONFIG_DEFAULT_PATH;
	char *argv[] = {client, (char *)"--config", (char *)config, (char *)"internal-delete-job",
			(char *)delete_job_kind_to_string(kind), NULL};
	struct delete_job_in in = {.magic = DELETE_JOB_MAGIC, .size = sizeof(in), .expect = *expect};
	int to_child, from_child, status, r;
	pid_t pid;

	memset(ret, 0, sizeof(*ret));
	r = monitor_child_spawn(argv, &pid, &to_child, &from_child);
	if (r < 0) {
		snprintf(ret->why, sizeof(ret->why), "cannot run %s: %s", client, strerror(-r));
		return r;
	}
	__atomic_store_n(ret_pid, pid, __ATOMIC_RELEASE);
	/* the record is far smaller than a pipe's buffer: no deadlock */
	if (write(to_child, &in, sizeof(in)) != (ssize_t)sizeof(in)) {
		/* the child reports the short read itself */
	}
	close(to_child);
	r = read_full(from_child, ret, sizeof(*ret));
	close(from_child);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	__atomic_store_n(ret_pid, 0, __ATOMIC_RELEASE);
	if (r < 0 || ret->magic != DELETE_JOB_MAGIC || ret->size != sizeof(*ret)) {
		/* a whole record of the wrong shape: another build's client */
		int other_build = r == 0;
		memset(ret, 0, sizeof(*ret));
		if (WIFSIGNALED(status))
			snprintf(ret->why, sizeof(ret->why), "agentbox %s job killed by signal %d",
				 delete_job_kind_to_string(kind), WTERMSIG(status));
		else
			snprintf(ret->why, sizeof(ret->why),
				 "agentbox %s job gave no result (exit status %d%s)",
				 delete_job_kind_to_string(kind),
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1,
				 other_build ? "; is agentbox the same build as agentbox-monitor?"
					     : "; see its journal lines");
		return -EIO;
	}
	ret->why[sizeof(ret->why) - 1] = '\0';
	ret->ready_why[sizeof(ret->ready_why) - 1] = '\0';
	ret->shutdown_why[sizeof(ret->shutdown_why) - 1] = '\0';
	ret->generation[sizeof(ret->generation) - 1] = '\0';
	return 0;
}
