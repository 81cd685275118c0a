/* The run loop; see display-server.h.
 *
 * Nothing here polls on a timer while the screen is still: the loop
 * sleeps in poll() until X reports damage, a cursor or clipboard change,
 * or a web connection moves. Damage is read from X only while some client
 * is connected and past authentication, at most display.max_fps times a
 * second, so an update is ready the moment a client asks for the next
 * one; without such clients it accumulates until one comes. A client's
 * first frame is a read of the whole screen, made before it is sent. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rfb/rfb.h>
#include <rfb/rfbregion.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "display-auth.h"
#include "display-conf.h"
#include "display-rfb.h"
#include "display-server.h"
#include "display-terminal.h"
#include "display-web.h"
#include "display-xcb.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

/* Keeps every fd below FD_SETSIZE: libvncserver select()s on them. */
static void display_limit_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > FD_SETSIZE) {
		rl.rlim_cur = FD_SETSIZE;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int display_exec_xvfb(const struct config *c)
{
	char geometry[64];
	int w, h, d;

	if (display_parse_geometry(c->display_geometry, &w, &h, &d) < 0)
		return -EINVAL;
	snprintf(geometry, sizeof(geometry), "%dx%dx%d", w, h, d);
	execlp("Xvfb", "Xvfb", c->display_x_display, "-screen", "0", geometry, "-nolisten", "tcp",
	       "-noreset", (char *)NULL);
	return negative_errno();
}

/* Starts Xvfb for the configured display; returns its pid or -errno. */
static pid_t display_spawn_xvfb(const struct config *c)
{
	pid_t pid = fork();

	if (pid < 0)
		return negative_errno();
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		display_exec_xvfb(c);
		_exit(127);
	}
	log_info("Started Xvfb %s (%s), pid %d", c->display_x_display, c->display_geometry,
		 (int)pid);
	return pid;
}

static void display_stop_child(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(100 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Reacts to what X reported: cursor, size, clipboard, damage. */
static void display_take_x_changes(struct dx *dx, struct drfb *rfb, sraRegion *pending)
{
	if (dx->resized) {
		int r;

		dx->resized = 0;
		r = drfb_resize(rfb);
		if (r < 0)
			log_warning_errno(r, "Cannot read the resized X screen, showing only what "
					     "changes from now: %m");
		sraRgnMakeEmpty(pending);
		dx_damage_take(dx, pending);
		sraRgnMakeEmpty(pending);
	}
	if (dx->cursor_changed) {
		dx->cursor_changed = 0;
		drfb_update_cursor(rfb);
	}
	if (dx->clip_in) {
		drfb_send_clipboard(rfb, dx->clip_in, dx->clip_in_len);
		free(dx->clip_in);
		dx->clip_in = NULL;
	}
	if (dx->damaged)
		dx_damage_take(dx, pending);
}

int display_run(const struct config *c, int spawn_xvfb)
{
	_cleanup_secret_ char *password = NULL;
	struct dx *dx = NULL;
	struct drfb *rfb = NULL;
	struct dweb *web = NULL;
	struct dauth *auth = NULL;
	struct dterm_site *term_site = NULL;
	sraRegion *pending = NULL;
	_cleanup_close_ int sfd = -1;
	pid_t xvfb = -1;
	usec_t frame = (usec_t)(USEC_PER_SEC / c->display_max_fps), last_read = 0;
	sigset_t mask;
	int r;
	const int loopback = display_address_is_loopback(c->display_listen);
	_cleanup_free_ char *container = xasprintf("agentbox-%s", c->workspace_name);
	const struct dterm_config term = {.docker_host = c->workspace_docker_host,
					  .container = container,
					  .user = c->workspace_user,
					  .session = "main"};
	/* a shell is never weaker protected than the screen: its rows sit
	 * behind the web login like the screen's, and without a web password
	 * only on loopback (display-conf.c refuses anything else already) */
	const int terminal = c->display_terminal && (loopback || c->display_web_password_file);

	display_limit_fds();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return log_error_errno(errno, "signalfd: %m");

	if (c->display_password_file) {
		const char *why = NULL;
		r = read_secret(c->display_password_file, &password, &why);
		if (r < 0) {
			log_error("display.password_file: %s: %s", c->display_password_file,
				  strempty(why));
			return -EINVAL;
		}
		if (!*password) {
			log_error("display.password_file: %s is empty", c->display_password_file);
			return -EINVAL;
		}
		if (strlen(password) > 8)
			log_notice("VNC authentication uses the first 8 characters of the "
				   "password only");
	}

	if (c->display_web_password_file) {
		_cleanup_secret_ char *web_password = NULL;
		const char *why = NULL;

		r = read_secret(c->display_web_password_file, &web_password, &why);
		if (r < 0) {
			log_error("display.web_password_file: %s: %s",
				  c->display_web_password_file, strempty(why));
			return -EINVAL;
		}
		r = dauth_new(web_password, &auth);
		if (r == -EINVAL) {
			log_error("display.web_password_file: %s must hold %d to %d characters "
				  "(make one with: openssl rand -base64 24)",
				  c->display_web_password_file, DAUTH_MIN_PASSWORD,
				  DAUTH_MAX_PASSWORD);
			return -EINVAL;
		}
		if (r < 0)
			return log_error_errno(r, "Cannot start libsodium: %m");
	}

	if (spawn_xvfb) {
		xvfb = display_spawn_xvfb(c);
		if (xvfb < 0) {
			r = log_error_errno(xvfb, "Cannot start Xvfb: %m");
			goto out;
		}
	}
	r = dx_connect(c->display_x_display, spawn_xvfb ? 30 * USEC_PER_SEC : USEC_INFINITY, &dx);
	if (r < 0) {
		log_error_errno(r, "Cannot use X server %s: %m", c->display_x_display);
		goto out;
	}
	r = drfb_new(dx, TAKE_PTR(password), &rfb);
	if (r < 0) {
		log_error_errno(r, "Cannot set up the RFB screen: %m");
		goto out;
	}
	/* off loopback, the RFB port (no TLS) stays on loopback; only the
	 * web port (TLS, password) listens there */
	r = dweb_new(&(struct dweb_options){.web_addr = c->display_listen,
					    .web_port = c->display_web_port,
					    .rfb_addr = loopback ? c->display_listen : "127.0.0.1",
					    .rfb_port = c->display_port,
					    .novnc_dir = c->display_novnc_dir,
					    .tls_cert_file = c->display_tls_cert_file,
					    .tls_key_file = c->display_tls_key_file,
					    .allowed_hosts = c->display_allowed_hosts,
					    .auth = TAKE_PTR(auth)},
		     rfb, &web);
	if (r < 0)
		goto out;
	if (terminal) {
		r = dterm_add_routes(web, &term, c->display_terminal_dir, &term_site);
		if (r < 0) {
			log_error_errno(r, "Cannot add the terminal's routes: %m");
			goto out;
		}
	}
	/* the whole screen once; DAMAGE tells us the rest */
	r = drfb_read_all(rfb);
	if (r < 0)
		log_warning_errno(r, "Cannot read the X screen at start, reading it again when "
				     "a client connects: %m");
	pending = sraRgnCreate();
	log_info("Serving X display %s (%dx%d): RFB on %s:%d, noVNC on %s://%s:%d/vnc.html",
		 c->display_x_display, dx->width, dx->height,
		 loopback ? c->display_listen : "127.0.0.1", c->display_port,
		 c->display_tls_cert_file ? "https" : "http", c->display_listen,
		 c->display_web_port);
	if (terminal)
		log_info("Terminal (tmux in container %s) on %s://%s:%d/terminal", container,
			 c->display_tls_cert_file ? "https" : "http", c->display_listen,
			 c->display_web_port);
	else if (c->display_terminal)
		log_notice("No terminal at /terminal: display.listen is not loopback and "
			   "display.web_password_file is not set");
	sd_notify(0, "READY=1");

	for (;;) {
		struct pollfd p[4 + 2 + 2 * DWEB_MAX_CONNS];
		size_t n = 3;
		int timeout = -1, t;
		usec_t now;

		p[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = dx_fd(dx), .events = POLLIN};
		p[2] = (struct pollfd){.fd = drfb_wake_fd(rfb), .events = POLLIN};
		n += dweb_pollfds(web, p + 3, ELEMENTSOF(p) - 3);

		/* damage held back by the frame rate cap, or by a client still in
		 * its handshake: look again a frame later */
		if (!sraRgnEmpty(pending) && drfb_clients(rfb) > 0)
			timeout = (int)(frame / USEC_PER_MSEC) + 1;
		/* events xcb read while we waited for a reply: the fd will not
		 * tell us about them */
		if (dx_has_queued(dx))
			timeout = 0;
		/* connections waiting for authentication have a deadline */
		t = dweb_timeout(web);
		if (t >= 0 && (timeout < 0 || t < timeout))
			timeout = t;
		r = poll(p, n, timeout);
		if (r < 0 && errno != EINTR) {
			r = log_error_errno(errno, "poll: %m");
			goto out;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				log_info("Got signal %d, stopping", (int)si.ssi_signo);
				r = 0;
				goto out;
			}
		}
		if (p[2].revents) {
			eventfd_t v;
			eventfd_read(p[2].fd, &v);
		}
		r = dx_process_events(dx);
		if (r < 0) {
			log_error("Lost the X server %s", c->display_x_display);
			r = -EPIPE;
			goto out;
		}
		display_take_x_changes(dx, rfb, pending);
		now = now_usec(CLOCK_MONOTONIC);
		/* a client's first frame: the whole screen, whatever damage says
		 * (it covers the damage taken so far) */
		if (drfb_fresh_wanted(rfb)) {
			sraRgnMakeEmpty(pending);
			r = drfb_read_all(rfb);
			if (r < 0)
				log_warning_errno(r, "Cannot read the X screen for a new client: %m");
			last_read = now;
		}
		if (!sraRgnEmpty(pending) && now - last_read >= frame &&
		    drfb_active_clients(rfb) > 0) {
			drfb_update(rfb, pending);
			last_read = now;
		}
		dweb_dispatch(web, p + 3, n - 3);
		dweb_expire(web, now);
	}
out:
	sd_notify(0, "STOPPING=1");
	auth = dauth_free(auth);
	web = dweb_free(web);
	term_site = dterm_site_free(term_site); /* after the routes that use it */
	rfb = drfb_free(rfb);
	dx = dx_free(dx);
	if (pending)
		sraRgnDestroy(pending);
	display_stop_child(xvfb);
	return r;
}
