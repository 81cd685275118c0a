/* agentbox attach; see monitor-cli-attach.h.
 *
 * The local terminal goes to raw mode and is bridged byte for byte to
 * the exec's stream; SIGWINCH (read from a signalfd in the same poll)
 * becomes an exec resize. The terminal's mode is restored on every way
 * out. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "docker-exec.h"
#include "docker.h"
#include "macro.h"
#include "monitor-cli-attach.h"

#define ATTACH_START_TIMEOUT_MS 15000

static void attach_usage(void)
{
	fprintf(stderr, "Usage: agentbox attach [--session NAME]\n");
}

/* The local terminal's size; 0x0 when unknown. */
static void attach_winsize(unsigned *rows, unsigned *cols)
{
	struct winsize ws = {0};

	*rows = *cols = 0;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* Writes all of buf to fd (a terminal: blocking). */
static int attach_write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Sends all of buf to the stream, waiting while it is full. */
static int attach_send_all(struct docker_stream *s, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = docker_stream_write(s, buf, n);
		if (w == -EAGAIN) {
			struct pollfd p = {.fd = docker_stream_fd(s), .events = POLLOUT};
			if (poll(&p, 1, 30000) == 0)
				return -ETIMEDOUT;
			continue;
		}
		if (w < 0)
			return (int)w;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Bridges the terminal and the stream until either ends: 0 when the
 * stream ended (tmux detached or ended), 1 when our side did (end of
 * input, SIGHUP or SIGTERM), or -errno. */
static int attach_loop(struct docker *d, const char *id, struct docker_stream *s, int sfd)
{
	char buf[65536];

	for (;;) {
		struct pollfd p[3] = {
		    {.fd = STDIN_FILENO, .events = POLLIN},
		    {.fd = docker_stream_fd(s), .events = POLLIN},
		    {.fd = sfd, .events = POLLIN},
		};
		ssize_t n;

		if (!docker_stream_pending(s) && poll(p, 3, -1) < 0 && errno != EINTR)
			return -errno;
		if (p[2].revents) {
			struct signalfd_siginfo si;
			_cleanup_free_ char *error = NULL;
			unsigned rows, cols;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo != SIGWINCH)
				return 1; /* the SSH connection went, or we are told to stop */
			attach_winsize(&rows, &cols);
			if (rows && cols)
				docker_exec_resize(d, id, rows, cols, &error); /* best effort */
		}
		if (docker_stream_pending(s) || p[1].revents) {
			n = docker_stream_read(s, buf, sizeof(buf));
			if (n == 0)
				return 0; /* tmux ended or detached */
			if (n < 0 && n != -EAGAIN)
				return (int)n;
			if (n > 0 && attach_write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
				return -EPIPE;
		}
		if (p[0].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return 1;
			if (attach_send_all(s, buf, (size_t)n) < 0)
				return -EPIPE;
		}
	}
}

int cli_attach(struct config *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"session", required_argument, NULL, 's'},
	    {},
	};
	_cleanup_free_ char *container = xasprintf("agentbox-%s", c->workspace_name);
	_cleanup_free_ char *error = NULL, *id = NULL;
	_cleanup_(docker_freep) struct docker *d = NULL;
	_cleanup_(docker_stream_freep) struct docker_stream *s = NULL;
	_cleanup_close_ int sfd = -1;
	const char *session = "main";
	struct termios saved, raw;
	unsigned rows, cols;
	pid_t pid = 0;
	sigset_t mask;
	int o, r;

	optind = 0;
	while ((o = getopt_long(argc, argv, "s:", options, NULL)) >= 0) {
		if (o == 's')
			session = optarg;
		else {
			attach_usage();
			return EXIT_CONFIG;
		}
	}
	if (optind < argc) {
		attach_usage();
		return EXIT_CONFIG;
	}
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) < 0) {
		fprintf(stderr, "agentbox attach: needs a terminal (ssh -t)\n");
		return 1;
	}
	r = docker_open(c->workspace_docker_host, &d, &error);
	if (r < 0) {
		fprintf(stderr, "agentbox attach: %s\n", error);
		return 1;
	}
	attach_winsize(&rows, &cols);
	/* -A: the session the image started, or a new one */
	r = docker_exec_create(
	    d,
	    &(struct docker_exec_options){
		.container = container,
		.user = c->workspace_user,
		.argv = (char *[]){"tmux", "new-session", "-A", "-s", (char *)session, NULL},
		.rows = rows,
		.cols = cols},
	    &id, &error);
	if (r < 0) {
		fprintf(stderr, "agentbox attach: cannot run tmux in container %s: %s%s\n",
			container, error,
			r == -EBUSY || r == -ENOENT
			    ? " (is agentbox-init running? systemctl status "
			      "agentbox-init)"
			    : "");
		return 1;
	}
	r = docker_exec_start(d, id, ATTACH_START_TIMEOUT_MS, &s, &error);
	if (r < 0) {
		fprintf(stderr, "agentbox attach: %s\n", error);
		return 1;
	}
	free(error);
	error = NULL;
	if (rows && cols)
		docker_exec_resize(d, id, rows, cols, &error); /* ConsoleSize may be unknown */
	free(error);
	error = NULL;
	docker_exec_pid(d, id, &pid, &error); /* for the hangup below */

	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	raw = saved;
	cfmakeraw(&raw);
	tcsetattr(STDIN_FILENO, TCSADRAIN, &raw);
	r = attach_loop(d, id, s, sfd);
	tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
	/* dockerd keeps the exec's pty open after the stream closes: the tmux
	 * client would stay attached to nobody */
	if (r != 0 && pid > 0)
		docker_exec_hangup(pid, "tmux");
	if (r == 1)
		return 0;
	if (r < 0) {
		fprintf(stderr, "\r\nagentbox attach: the connection to the container ended: %s\n",
			strerror(-r));
		return 1;
	}
	return 0;
}
