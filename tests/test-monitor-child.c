/* The monitor's child jobs (monitor/monitor-child.c): a JSON request in, one
 * JSON object out, the end seen through the polled fd; failures named; a
 * stop ends the child even though the daemon blocks SIGTERM. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "macro.h"
#include "monitor-child.h"
#include "tests.h"
#include "time-util.h"

/* Polls the job's fd and the job until it finishes, at most 5 s: 1 when it did. */
static int run_to_end(struct child_job *j)
{
	for (int i = 0; i < 500; i++) {
		struct pollfd p = {.fd = child_job_fd(j), .events = POLLIN};

		if (p.fd >= 0)
			poll(&p, 1, 10);
		else
			usleep(10000);
		if (child_job_poll(j) > 0)
			return 1;
	}
	return 0;
}

TEST(request_in_result_out)
{
	char *argv[] = {(char *)"/bin/sh", (char *)"-c",
			(char *)"read -r req; printf '{\"got\": %s}\\n' \"$req\"", NULL};
	struct child_job j;
	char why[256] = "";
	cJSON *o;

	child_job_init(&j);
	ASSERT_INT_EQ(child_job_fd(&j), -1);
	ASSERT_OK(child_job_start(&j, argv, "{\"expect\": 42}"));
	ASSERT_TRUE(j.pid > 0);
	ASSERT_TRUE(child_job_fd(&j) >= 0);
	ASSERT_TRUE(run_to_end(&j));
	ASSERT_INT_EQ(j.pid, 0);
	ASSERT_INT_EQ(child_job_fd(&j), -1);
	o = child_job_result(&j, "test job", why, sizeof(why));
	ASSERT_NOT_NULL(o);
	ASSERT_INT_EQ((int)cJSON_GetObjectItem(cJSON_GetObjectItem(o, "got"), "expect")->valuedouble,
		      42);
	cJSON_Delete(o);
	ASSERT_INT_EQ(child_job_poll(&j), 0); /* collected once */
}

TEST(failures_named)
{
	char *fail[] = {(char *)"/bin/sh", (char *)"-c", (char *)"echo '{}'; exit 3", NULL};
	char *junk[] = {(char *)"/bin/sh", (char *)"-c", (char *)"echo not json", NULL};
	char *killed[] = {(char *)"/bin/sh", (char *)"-c", (char *)"kill -9 $$", NULL};
	struct child_job j;
	char why[256];

	child_job_init(&j);
	ASSERT_OK(child_job_start(&j, fail, NULL));
	ASSERT_TRUE(run_to_end(&j));
	ASSERT_TRUE(child_job_result(&j, "agentbox backup", why, sizeof(why)) == NULL);
	ASSERT_STR_EQ(why, "agentbox backup exited with 3 (see its journal lines)");

	ASSERT_OK(child_job_start(&j, junk, NULL));
	ASSERT_TRUE(run_to_end(&j));
	ASSERT_TRUE(child_job_result(&j, "agentbox backup", why, sizeof(why)) == NULL);
	ASSERT_STR_CONTAINS(why, "agentbox backup gave no result");

	ASSERT_OK(child_job_start(&j, killed, NULL));
	ASSERT_TRUE(run_to_end(&j));
	ASSERT_TRUE(child_job_result(&j, "agentbox backup", why, sizeof(why)) == NULL);
	ASSERT_STR_EQ(why, "agentbox backup killed by signal 9");
}

TEST(start_errors)
{
	char *missing[] = {(char *)"/nonexistent/agentbox", NULL};
	char *sleeper[] = {(char *)"/bin/sleep", (char *)"5", NULL};
	struct child_job j;

	child_job_init(&j);
	ASSERT_TRUE(child_job_start(&j, missing, NULL) < 0);
	ASSERT_INT_EQ(j.pid, 0);
	ASSERT_OK(child_job_start(&j, sleeper, NULL));
	ASSERT_ERR(child_job_start(&j, sleeper, NULL), -EBUSY); /* one at a time */
	child_job_stop(&j);
	ASSERT_INT_EQ(j.pid, 0);
}

/* The daemon blocks SIGTERM for its signalfd; a job must not inherit that,
 * or the SIGTERM of a stop is ignored and only the SIGKILL after 1.5 s ends
 * it (provider.sh: the monitor then missed its 2 s to stop). */
TEST(stop_with_sigterm_blocked)
{
	char *sleeper[] = {(char *)"/bin/sleep", (char *)"30", NULL};
	struct child_job j;
	sigset_t mask, old;
	usec_t t0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	ASSERT_OK(sigprocmask(SIG_BLOCK, &mask, &old));
	child_job_init(&j);
	ASSERT_OK(child_job_start(&j, sleeper, NULL));
	usleep(100000); /* exec'd */
	t0 = now_usec(CLOCK_MONOTONIC);
	child_job_stop(&j);
	ASSERT_TRUE(now_usec(CLOCK_MONOTONIC) - t0 < 500 * USEC_PER_MSEC);
	ASSERT_TRUE(WIFSIGNALED(j.status) && WTERMSIG(j.status) == SIGTERM);
	ASSERT_INT_EQ(j.pid, 0);
	ASSERT_INT_EQ(child_job_fd(&j), -1);
	ASSERT_OK(sigprocmask(SIG_SETMASK, &old, NULL));
}
