/* A stand-in for an agent process in the processes tests. Started through
 * a symlink named like the program it plays ("claude", "node", "make") and
 * with the argv the test wants; the mode is its last argument:
 *   --busy           spin on the CPU
 *   --sleep          sleep
 *   --busy-child     sleep, with a child "cc1" spinning
 *   --reaped-children sleep between short-lived busy children it reaps
 *   --reaping-child  sleep, with a child "sh" that runs --reaped-children
 * It writes one byte to fd 3 (when open) once in that mode, dies with its
 * parent, and ends by itself after 60 s whatever happens. */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "time-util.h"

/* Burns CPU for msec milliseconds (forever when 0). */
static void spin(unsigned msec)
{
	usec_t end = now_usec(CLOCK_MONOTONIC) + msec * USEC_PER_MSEC;
	volatile unsigned long x = 0;

	for (;;) {
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
		if (msec > 0 && now_usec(CLOCK_MONOTONIC) >= end)
			return;
	}
}

/* Tells the test we are in our mode. */
static void ready(void)
{
	(void)!write(3, "r", 1);
	close(3);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[argc - 1] : "--sleep";

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(60);
	if (strcmp(mode, "--busy") == 0) {
		ready();
		spin(0);
	} else if (strcmp(mode, "--busy-child") == 0) {
		pid_t pid = fork();

		if (pid == 0) {
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			(void)prctl(PR_SET_NAME, "cc1");
			spin(0);
		}
		ready();
		for (;;)
			pause();
	} else if (strcmp(mode, "--reaped-children") == 0 || strcmp(mode, "--reaping-child") == 0) {
		if (strcmp(mode, "--reaping-child") == 0) {
			if (fork() != 0) {
				ready();
				for (;;)
					pause();
			}
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			(void)prctl(PR_SET_NAME, "sh");
		} else
			ready();
		for (;;) {
			pid_t pid = fork();

			if (pid == 0) {
				(void)prctl(PR_SET_NAME, "cc1");
				spin(40);
				_exit(0);
			}
			if (pid > 0)
				waitpid(pid, NULL, 0);
			usleep(10000);
		}
	}
	ready();
	for (;;)
		pause();
}
