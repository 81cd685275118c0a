/* The services step of agentbox-init: the display and the monitor.
 *
 * Under systemd they are units, started with --no-block (their units are
 * ordered after agentbox-init.service, so waiting for them here would wait
 * for ourselves). Without systemd (a laptop, a test) they run as our
 * children in the foreground, and agentbox-init stays to supervise them
 * until SIGTERM or SIGINT, which it passes on.
 *
 * The display and Xvfb run as the workspace user (the X socket, MIT-SHM),
 * which the config names: before starting them, a runtime drop-in
 * (/run/systemd/system/<unit>.d/, gone at reboot) sets User= from
 * workspace.user, and systemd reloads when one changed. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "initd.h"
#include "log.h"

static const char *const services[] = {"agentbox-display", "agentbox-monitor"};

/* Units that run as the workspace user. */
static const char *const user_units[] = {"agentbox-xvfb", "agentbox-display"};

#define INITD_DROPIN_NAME "50-agentbox-user.conf"

/* How long a child has to stop after SIGTERM. */
#define SERVICES_STOP_USEC (10 * USEC_PER_SEC)

/* Runs argv and waits; returns its exit status, or -errno. */
static int run_wait(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int unit_installed(const char *name)
{
	static const char *const dirs[] = {"/etc/systemd/system", "/lib/systemd/system",
					   "/usr/lib/systemd/system", "/run/systemd/system"};
	for (size_t k = 0; k < ELEMENTSOF(dirs); k++) {
		_cleanup_free_ char *p = xasprintf("%s/%s.service", dirs[k], name);
		if (access(p, F_OK) == 0)
			return 1;
	}
	return 0;
}

int initd_services_write_dropins(const char *unit_dir, const char *user, int *ret_changed)
{
	_cleanup_free_ char *text =
	    xasprintf("# Written by agentbox-init from workspace.user; gone at reboot.\n"
		      "[Service]\nUser=%s\n",
		      user);
	int changed = 0;

	for (size_t k = 0; k < ELEMENTSOF(user_units); k++) {
		_cleanup_free_ char *dir = xasprintf("%s/%s.service.d", unit_dir, user_units[k]);
		_cleanup_free_ char *path = xasprintf("%s/" INITD_DROPIN_NAME, dir);
		_cleanup_free_ char *old = NULL;
		int r;

		if (read_file(path, 4096, &old, NULL) == 0 && streq(old, text))
			continue;
		r = mkdir_p(dir, 0755);
		if (r < 0)
			return r;
		r = write_file_atomic(path, text, strlen(text), 0644);
		if (r < 0)
			return r;
		changed = 1;
	}
	*ret_changed = changed;
	return 0;
}

static int services_systemd(struct initd *i)
{
	char *reload[] = {(char *)"systemctl", (char *)"daemon-reload", NULL};
	int started = 0, changed, r;

	r = initd_services_write_dropins("/run/systemd/system", i->config->workspace_user,
					 &changed);
	if (r < 0) {
		log_error_errno(r, "Cannot write the User= drop-ins under /run/systemd/system: %m");
		return INITD_EXIT_SERVICES;
	}
	if (changed) {
		r = run_wait(reload);
		if (r != 0) {
			log_error("systemctl daemon-reload failed (%s %d); the display would run as "
				  "the wrong user: see journalctl -b -u init.scope",
				  r < 0 ? "error" : "status", r);
			return INITD_EXIT_SERVICES;
		}
		log_info("agentbox-xvfb and agentbox-display run as %s (workspace.user)",
			 i->config->workspace_user);
	}

	for (size_t k = 0; k < ELEMENTSOF(services); k++) {
		_cleanup_free_ char *unit = xasprintf("%s.service", services[k]);
		char *argv[] = {(char *)"systemctl", (char *)"start", (char *)"--no-block", unit,
				NULL};

		if (!unit_installed(services[k])) {
			log_warning("%s is not installed, not starting it", unit);
			continue;
		}
		r = run_wait(argv);
		if (r != 0) {
			log_error("systemctl start %s failed (%s %d); see systemctl status %s",
				  unit, r < 0 ? "error" : "status", r, unit);
			return INITD_EXIT_SERVICES;
		}
		started++;
	}
	i->services_outcome = started ? "started through systemd" : "none installed";
	return 0;
}

/* Our own directory's copy of prog, or prog for a $PATH lookup. */
static char *find_program(const char *prog)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			_cleanup_free_ char *p =
			    xasprintf("%.*s/%s", (int)(slash - self), self, prog);
			if (access(p, X_OK) == 0)
				return TAKE_PTR(p);
		}
	}
	for (const char *path = getenv("PATH"); path && *path;) {
		size_t l = strcspn(path, ":");
		_cleanup_free_ char *p = xasprintf("%.*s/%s", (int)l, path, prog);
		if (l && access(p, X_OK) == 0)
			return TAKE_PTR(p);
		path += l + (path[l] == ':');
	}
	return NULL;
}

static int services_children(struct initd *i, const char *config_path)
{
	for (size_t k = 0; k < ELEMENTSOF(services); k++) {
		_cleanup_free_ char *prog = find_program(services[k]);
		char *argv[6];
		int n = 0;
		pid_t pid;

		if (!prog) {
			log_warning("%s is not installed, not starting it", services[k]);
			continue;
		}
		argv[n++] = prog;
		if (config_path) {
			argv[n++] = (char *)"--config";
			argv[n++] = (char *)config_path;
		}
		if (streq(services[k], "agentbox-display"))
			argv[n++] = (char *)"--foreground";
		argv[n] = NULL;
		pid = fork();
		if (pid < 0) {
			log_error_errno(errno, "Cannot start %s: %m", prog);
			return INITD_EXIT_SERVICES;
		}
		if (pid == 0) {
			execv(prog, argv);
			_exit(127);
		}
		log_info("Started %s (pid %d)", prog, (int)pid);
		i->children[i->n_children++] = pid;
	}
	i->services_outcome =
	    i->n_children ? "running as children of agentbox-init" : "none installed";
	return 0;
}

int initd_services(struct initd *i, int use_systemd, const char *config_path)
{
	return use_systemd ? services_systemd(i) : services_children(i, config_path);
}

int initd_services_wait(struct initd *i)
{
	sigset_t set;
	int sig = 0, status;
	pid_t pid;

	if (i->n_children == 0)
		return 0;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	/* a child that died before we blocked SIGCHLD */
	pid = waitpid(-1, &status, WNOHANG);
	while (pid <= 0 && sigwait(&set, &sig) == 0 && sig == SIGCHLD)
		pid = waitpid(-1, &status, WNOHANG);
	if (pid > 0)
		log_warning("Child %d exited (status %d); stopping the others", (int)pid,
			    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	else
		log_info("Signal %d: stopping the display and the monitor", sig);
	for (int k = 0; k < i->n_children; k++)
		if (i->children[k] != pid)
			kill(i->children[k], SIGTERM);
	/* each gets SERVICES_STOP_USEC to go, then SIGKILL */
	for (int k = 0; k < i->n_children; k++) {
		usec_t end = now_usec(CLOCK_MONOTONIC) + SERVICES_STOP_USEC;

		if (i->children[k] == pid)
			continue;
		while (waitpid(i->children[k], NULL, WNOHANG) == 0) {
			if (now_usec(CLOCK_MONOTONIC) >= end) {
				log_warning("Child %d did not stop in time; killing it",
					    (int)i->children[k]);
				kill(i->children[k], SIGKILL);
				(void)waitpid(i->children[k], NULL, 0);
				break;
			}
			(void)usleep(20000);
		}
	}
	return pid > 0 ? INITD_EXIT_SERVICES : 0;
}
