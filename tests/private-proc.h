/* Included by the process and tty tests: before main() the test moves
 * into a new pid and mount namespace with its own /proc, so the signals
 * see only the processes and ptys the test made, not whatever else runs
 * on the machine (a busy "claude" of a developer, a terminal in use). The
 * test becomes pid 1 there; everything it started dies with it. Without
 * the privilege to do so, every block is skipped. */
#ifndef AGENTBOX_TESTS_PRIVATE_PROC_H
#define AGENTBOX_TESTS_PRIVATE_PROC_H

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs the rest of the program in the namespaces; the parent waits and
 * exits with the child's status. */
__attribute__((constructor)) static void private_proc_enter(void)
{
	const char *self = program_invocation_short_name;
	pid_t pid;
	int status;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
		printf("SKIP: %s: needs a private pid namespace (root): %s\n", self,
		       strerror(errno));
		fflush(stdout);
		_exit(0);
	}
	pid = fork();
	if (pid < 0) {
		printf("FAIL: %s: fork: %s\n", self, strerror(errno));
		fflush(stdout);
		_exit(1);
	}
	if (pid == 0) {
		/* killed with the parent (a test driver's timeout ends that one) */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
			printf("FAIL: %s: mounting a private /proc: %s\n", self, strerror(errno));
			fflush(stdout);
			_exit(1);
		}
		return;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* Reaps the orphans that were handed to us as pid 1. */
static inline void private_proc_reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

#endif
