/* The agentbox-monitor main loop: a timerfd ticks, signal sources sample,
 * the idle policy decides, and the result goes to status.json, STATUS=,
 * the journal, the terminals and, once idle, the configured action.
 * sd_notify: READY=1 after the first sample, WATCHDOG=1 at half of
 * WATCHDOG_USEC, STOPPING=1 on SIGTERM. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "fileio.h"
#include "log.h"
#include "monitor-daemon.h"
#include "monitor-webhook.h"
#include "monitor-delete.h"

#define ACTION_RETRY_USEC (60 * USEC_PER_SEC)
/* A keepalive file rewritten in place does not change the directory's
 * mtime; such edits are noticed within this time. */
#define KEEPALIVE_RESCAN_USEC (5 * USEC_PER_SEC)
#define POLL_FDS_MAX 20

static void monitor_notify(struct monitor *m, const char *text)
{
	(void)m;
	sd_notify(0, text);
}

static void monitor_signals_init(struct monitor *m)
{
	size_t n;
	const struct signal_ops *const *ops = signal_source_list(&n);

	m->signals = xcalloc(n, sizeof(*m->signals));
	m->n_signals = n;
	for (size_t i = 0; i < n; i++) {
		struct signal_source *s = &m->signals[i];

		signal_source_init(s, ops[i], m->config);
		if (ops[i]->init && ops[i]->init(s) < 0 && !s->state.degraded)
			signal_degrade(s, -EIO, "could not be set up");
	}
}

static void monitor_signals_done(struct monitor *m)
{
	for (size_t i = 0; i < m->n_signals; i++)
		if (m->signals[i].ops->done)
			m->signals[i].ops->done(&m->signals[i]);
	free(m->signals);
	m->signals = NULL;
}

/* Converts a future realtime stamp to CLOCK_BOOTTIME (tick_from_realtime
 * clamps to now, which a keepalive's end must not be). */
static usec_t realtime_to_boottime(const struct monitor_tick *t, usec_t realtime)
{
	if (realtime >= t->realtime)
		return t->now + (realtime - t->realtime);
	return tick_from_realtime(t, realtime);
}

/* Is a scan of keepalive.d needed? Not when the directory did not change,
 * the hold in force has not ended and the last scan is recent: one stat()
 * instead of reading every file on every tick. */
static int monitor_keepalive_changed(struct monitor *m)
{
	struct stat st;

	if (stat(m->keepalive_path, &st) < 0)
		return 1;
	if (st.st_mtim.tv_sec != m->keepalive_mtime.tv_sec ||
	    st.st_mtim.tv_nsec != m->keepalive_mtime.tv_nsec) {
		m->keepalive_mtime = st.st_mtim;
		return 1;
	}
	if (m->keepalive.until && m->keepalive.until <= m->tick.realtime)
		return 1;
	return m->tick.now - m->keepalive_scanned >= KEEPALIVE_RESCAN_USEC;
}

static void monitor_update_keepalive(struct monitor *m)
{
	struct keepalive k;
	char buf[FORMAT_UTC_MAX];

	if (m->keepalive_scanned && !monitor_keepalive_changed(m))
		return;
	m->keepalive_scanned = m->tick.now;
	if (keepalive_scan(m->config, m->tick.realtime, &k) < 0)
		return;
	if (k.until == m->keepalive.until && streq(k.holder, m->keepalive.holder))
		return;
	/* The end of a hold is activity: the idle clock starts there, not
	 * at the last activity before the hold. */
	if (m->keepalive.until)
		m->keepalive_ended =
			MAX(m->keepalive_ended, MIN(realtime_to_boottime(&m->tick, m->keepalive.until),
						    m->tick.now));
	if (k.until) {
		format_utc(buf, sizeof(buf), (time_t)(k.until / USEC_PER_SEC));
		log_event(LOG_NOTICE, MSGID_KEEPALIVE,
			  LOG_FIELDS({"AGENTBOX_KEEPALIVE_HOLDER", k.holder},
				     {"AGENTBOX_KEEPALIVE_UNTIL", buf}),
			  2, "Kept alive by %s until %s%s%s", k.holder, buf, k.reason[0] ? ": " : "",
			  k.reason);
	} else if (m->keepalive.until)
		log_event(LOG_NOTICE, MSGID_KEEPALIVE,
			  LOG_FIELDS({"AGENTBOX_KEEPALIVE_HOLDER", m->keepalive.holder}), 1,
			  "Keepalive of %s ended", m->keepalive.holder);
	m->keepalive = k;
}

/* Latest activity of any source; a degraded source is active now. */
static void monitor_collect_activity(struct monitor *m)
{
	m->last_activity = m->started;
	m->kept_alive_by = "start";
	snprintf(m->kept_alive_detail, sizeof(m->kept_alive_detail), "monitor started");
	for (size_t i = 0; i < m->n_signals; i++) {
		struct signal_source *s = &m->signals[i];
		usec_t when = s->state.degraded ? m->tick.now : s->state.last_active;

		if (when < m->last_activity)
			continue;
		m->last_activity = when;
		m->kept_alive_by = s->ops->name;
		if (s->state.degraded)
			snprintf(m->kept_alive_detail, sizeof(m->kept_alive_detail),
				 "degraded: %s", s->state.reason);
		else
			snprintf(m->kept_alive_detail, sizeof(m->kept_alive_detail), "%s",
				 s->state.detail);
	}
}

static void monitor_sample(struct monitor *m)
{
	usec_t now = now_usec(CLOCK_BOOTTIME);

	m->tick.window = m->tick.seq ? now - m->tick.now : 0;
	m->tick.seq++;
	m->tick.now = now;
	m->tick.realtime = now_usec(CLOCK_REALTIME);
	/* The offset read each tick jitters by microseconds, enough to flip a
	 * published second back and forth and rewrite status.json for nothing:
	 * only a real change (the clock was set) is taken. */
	{
		int64_t off = (int64_t)m->tick.realtime - (int64_t)now;
		if (!m->rt_offset || off - m->rt_offset > 500000 || m->rt_offset - off > 500000)
			m->rt_offset = off;
	}
	for (size_t i = 0; i < m->n_signals; i++) {
		struct signal_source *s = &m->signals[i];
		if (s->ops->sample && s->ops->sample(s, &m->tick) < 0 && !s->state.degraded)
			signal_degrade(s, -EIO, "sampling failed");
	}
	monitor_update_keepalive(m);
	monitor_collect_activity(m);
}

static void monitor_warn(struct monitor *m)
{
	const struct config *c = m->config;
	char idle[FORMAT_DURATION_MAX], left[FORMAT_DURATION_MAX], secs[32];
	usec_t due = m->decision.deadline > m->tick.now ? m->decision.deadline - m->tick.now : 0;
	_cleanup_free_ char *text = NULL;

	format_duration(idle, sizeof(idle), m->decision.idle_for);
	format_duration(left, sizeof(left), due);
	snprintf(secs, sizeof(secs), "%llu", (unsigned long long)(m->decision.idle_for / USEC_PER_SEC));
	if (m->decision.reason == IDLE_REASON_MAX_LIFETIME)
		text = xasprintf("This workspace reaches its maximum lifetime in %s; then: %s.", left,
				 idle_action_to_string(c->idle_action));
	else
		text = xasprintf("This workspace has been idle for %s; in %s: %s, unless there is "
				 "activity. 'agentbox keepalive 2h' holds it.",
				 idle, left, idle_action_to_string(c->idle_action));
	log_event(LOG_WARNING, MSGID_IDLE_WARNING,
		  LOG_FIELDS({"AGENTBOX_IDLE_SECONDS", secs},
			     {"AGENTBOX_ACTION", idle_action_to_string(c->idle_action)},
			     {"AGENTBOX_REASON", idle_reason_to_string(m->decision.reason)}),
		  3, "%s", text);
	monitor_webhook(m, WEBHOOK_IDLE_WARNING, text);
	/* With no action there is nothing for a person to prevent. */
	if (c->idle_wall && c->idle_action != IDLE_ACTION_NONE)
		m->wall_sent = monitor_wall(text) > 0;
}

static void monitor_cancel_warning(struct monitor *m)
{
	log_event(LOG_NOTICE, MSGID_IDLE_CANCELLED,
		  LOG_FIELDS({"AGENTBOX_SIGNAL", strempty(m->kept_alive_by)}), 1,
		  "Idle warning cancelled: %s (%s)", strempty(m->kept_alive_by), m->kept_alive_detail);
	if (m->wall_sent)
		monitor_wall("Idle warning cancelled: the workspace is in use again.");
	m->wall_sent = 0;
}

/* Starts "systemctl poweroff" with an empty environment. */
static int monitor_spawn_poweroff(struct monitor *m)
{
	char *argv[] = {(char *)"systemctl", (char *)"poweroff", NULL};
	char *envp[] = {(char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	int r;

	r = posix_spawnp(&m->action_pid, "systemctl", NULL, NULL, argv, envp);
	if (r != 0) {
		m->action_pid = 0;
		return -r;
	}
	return 0;
}

/* Powers off, once (again after a failure's retry time): the action
 * "poweroff", and the delete sequence's last step where a poweroff
 * terminates the instance. */
static void monitor_poweroff(struct monitor *m, const char *action, const char *secs,
			     const char *text)
{
	int r;

	if (m->action_pid || (m->poweroff_started && !m->action_retry_at) ||
	    (m->action_retry_at && m->tick.now < m->action_retry_at))
		return;
	m->poweroff_started = 1;
	m->action_retry_at = 0;
	if (secs)
		log_event(LOG_NOTICE, MSGID_ACTION,
			  LOG_FIELDS({"AGENTBOX_ACTION", action}, {"AGENTBOX_IDLE_SECONDS", secs}), 2,
			  "%s", text);
	else
		log_event(LOG_NOTICE, MSGID_ACTION, LOG_FIELDS({"AGENTBOX_ACTION", action}), 1, "%s",
			  text);
	/* the delete sequence announced its own start */
	if (streq(action, "poweroff"))
		monitor_webhook(m, WEBHOOK_ACTION, text);
	r = monitor_spawn_poweroff(m);
	if (r < 0) {
		snprintf(m->action_error, sizeof(m->action_error), "cannot run systemctl: %s",
			 strerror(-r));
		m->action_retry_at = m->tick.now + ACTION_RETRY_USEC;
		log_event(LOG_ERR, MSGID_ACTION_FAILED, LOG_FIELDS({"AGENTBOX_ACTION", action}), 1,
			  "Poweroff failed, retrying in 1m: %s", m->action_error);
	}
}

/* The delete sequence's events go out as webhooks. */
static void monitor_delete_notify(void *userdata, const char *event, const char *message)
{
	monitor_webhook(userdata, event, message);
}

/* The delete sequence's tick: it is told what it needs and says what to do. */
static void monitor_act_delete(struct monitor *m)
{
	struct delete_tick t = {
		.now = m->tick.now,
		.last_activity = m->last_activity,
		.decision = m->decision.state,
		.keepalive_ended = m->keepalive_ended,
		.kept_alive_by = m->kept_alive_by,
		.kept_alive_detail = m->kept_alive_detail,
	};

	if (!m->delete)
		return;
	m->state = IDLE_STATE_ACTING;
	if (!m->action_started)
		m->action_started = m->tick.now;
	switch (delete_seq_act(m->delete, &t)) {
	case DELETE_WANT_ACT:
		break;
	case DELETE_WANT_ACTIVE:
		m->state = IDLE_STATE_ACTIVE;
		m->action_started = 0;
		m->action_error[0] = '\0';
		break;
	case DELETE_WANT_POWEROFF:
		monitor_poweroff(m, "delete", NULL, "Powering off; the instance terminates with it");
		break;
	}
}

static void monitor_act(struct monitor *m)
{
	const struct config *c = m->config;
	char secs[32];

	snprintf(secs, sizeof(secs), "%llu", (unsigned long long)(m->decision.idle_for / USEC_PER_SEC));
	switch (c->idle_action) {
	case IDLE_ACTION_NONE:
		log_event(LOG_NOTICE, MSGID_ACTION,
			  LOG_FIELDS({"AGENTBOX_ACTION", "none"}, {"AGENTBOX_IDLE_SECONDS", secs}), 2,
			  "idle.action is none: nothing done");
		return;
	case IDLE_ACTION_POWEROFF:
		m->state = IDLE_STATE_ACTING;
		if (!m->action_started)
			m->action_started = m->tick.now;
		monitor_poweroff(m, "poweroff", secs, "Idle: powering off");
		return;
	case IDLE_ACTION_DELETE:
		monitor_act_delete(m);
		return;
	}
}

const char *monitor_action_error(const struct monitor *m)
{
	return m->action_error[0] ? m->action_error : delete_seq_error(m->delete);
}

/* Reaps the poweroff command; a failure is loud and retried. */
static void monitor_reap(struct monitor *m)
{
	int status;

	if (!m->action_pid || waitpid(m->action_pid, &status, WNOHANG) != m->action_pid)
		return;
	m->action_pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return; /* the system is going down */
	snprintf(m->action_error, sizeof(m->action_error), "systemctl poweroff exited with %d",
		 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	m->action_retry_at = m->tick.now + ACTION_RETRY_USEC;
	log_event(LOG_ERR, MSGID_ACTION_FAILED, LOG_FIELDS({"AGENTBOX_ACTION", "poweroff"}), 1,
		  "Poweroff failed, retrying in 1m: %s", m->action_error);
}

/* Names what holds the box when the policy, not a signal, does. */
static void monitor_explain(struct monitor *m)
{
	char buf[FORMAT_UTC_MAX];

	switch (m->decision.reason) {
	case IDLE_REASON_KEEPALIVE:
		m->kept_alive_by = "keepalive";
		format_utc(buf, sizeof(buf), (time_t)(m->keepalive.until / USEC_PER_SEC));
		snprintf(m->kept_alive_detail, sizeof(m->kept_alive_detail), "%s until %s%s%s",
			 m->keepalive.holder, buf, m->keepalive.reason[0] ? ": " : "",
			 m->keepalive.reason);
		break;
	case IDLE_REASON_BOOT_GRACE:
		if (m->decision.idle_for >= m->config->idle_timeout - m->config->idle_warn_before) {
			m->kept_alive_by = "boot_grace";
			snprintf(m->kept_alive_detail, sizeof(m->kept_alive_detail),
				 "too soon after boot");
		}
		break;
	case IDLE_REASON_TIMEOUT:
	case IDLE_REASON_MAX_LIFETIME:
		if (m->decision.state == IDLE_STATE_IDLE) {
			m->kept_alive_by = NULL;
			m->kept_alive_detail[0] = '\0';
		}
		break;
	case IDLE_REASON_ACTIVITY:
		break;
	}
}

void monitor_tick(struct monitor *m)
{
	enum idle_state before = m->state;
	struct idle_input in;
	char line[MONITOR_TEXT_MAX];

	monitor_reap(m);
	monitor_sample(m);
	in = (struct idle_input){
		.now = m->tick.now,
		.last_activity = m->last_activity,
		.keepalive_until = m->keepalive.until
					   ? realtime_to_boottime(&m->tick, m->keepalive.until)
					   : m->keepalive_ended,
	};
	idle_decide(&m->policy, &in, &m->decision);
	monitor_explain(m);

	/* Once an action runs there is no way back but its failure's retry. */
	if (before == IDLE_STATE_ACTING)
		m->state = IDLE_STATE_ACTING;
	else
		m->state = m->decision.state;

	if (m->state == IDLE_STATE_WARNING && before != IDLE_STATE_WARNING)
		monitor_warn(m);
	if (before == IDLE_STATE_WARNING &&
	    (m->state == IDLE_STATE_ACTIVE || m->state == IDLE_STATE_HELD))
		monitor_cancel_warning(m);
	if (m->state == IDLE_STATE_IDLE && before != IDLE_STATE_IDLE) {
		char secs[32];
		snprintf(secs, sizeof(secs), "%llu",
			 (unsigned long long)(m->decision.idle_for / USEC_PER_SEC));
		log_event(LOG_NOTICE, MSGID_IDLE_DETECTED,
			  LOG_FIELDS({"AGENTBOX_IDLE_SECONDS", secs},
				     {"AGENTBOX_REASON", idle_reason_to_string(m->decision.reason)}),
			  2, "Idle: every signal quiet for %ss (%s)", secs,
			  idle_reason_to_string(m->decision.reason));
		monitor_act(m);
	} else if (m->state == IDLE_STATE_ACTING)
		monitor_act(m);
	if (before == IDLE_STATE_IDLE && m->state != IDLE_STATE_IDLE)
		log_info("Active again: %s (%s)", strempty(m->kept_alive_by), m->kept_alive_detail);
	delete_seq_poll(m->delete, m->tick.now);

	monitor_interrupt_tick(m);
	monitor_backup_tick(m);
	monitor_webhook_reap();

	if (monitor_status_write(m) < 0)
		log_debug("Cannot write %s", m->status_path);
	monitor_status_line(m, line, sizeof(line));
	if (!streq(line, m->status_line)) {
		_cleanup_free_ char *msg = xasprintf("STATUS=%s", line);
		monitor_notify(m, msg);
		snprintf(m->status_line, sizeof(m->status_line), "%s", line);
	}
	if (!m->ready_sent) {
		monitor_notify(m, "READY=1");
		m->ready_sent = 1;
	}
}

static int monitor_setup_fds(struct monitor *m, int *ret_sigfd, int *ret_timerfd)
{
	usec_t iv = m->config->idle_interval;
	struct itimerspec its = {
		.it_interval = {.tv_sec = (time_t)(iv / USEC_PER_SEC),
				.tv_nsec = (long)(iv % USEC_PER_SEC) * 1000},
	};
	sigset_t mask;
	int sigfd, timerfd;

	(void)m;
	its.it_value = its.it_interval;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		return -errno;
	timerfd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
	if (timerfd < 0 || timerfd_settime(timerfd, 0, &its, NULL) < 0) {
		int r = -errno;
		close(sigfd);
		if (timerfd >= 0)
			close(timerfd);
		return r;
	}
	*ret_sigfd = sigfd;
	*ret_timerfd = timerfd;
	return 0;
}

static void monitor_handle_signal(struct monitor *m, int sigfd)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_notice("SIGHUP: the config is read at start only; "
				   "restart the service to apply changes");
			continue;
		}
		m->stop = 1;
	}
}

static void monitor_watchdog(struct monitor *m)
{
	usec_t now;

	if (!m->watchdog_usec)
		return;
	now = now_usec(CLOCK_MONOTONIC);
	if (now - m->watchdog_last >= m->watchdog_usec / 2) {
		monitor_notify(m, "WATCHDOG=1");
		m->watchdog_last = now;
	}
}

static int monitor_poll_timeout(const struct monitor *m)
{
	usec_t now, next;

	if (!m->watchdog_usec)
		return -1;
	now = now_usec(CLOCK_MONOTONIC);
	next = m->watchdog_last + m->watchdog_usec / 2;
	return next <= now ? 0 : (int)MIN((next - now + 999) / 1000, 60000);
}

static int monitor_loop(struct monitor *m, int sigfd, int timerfd)
{
	while (!m->stop) {
		struct pollfd pfd[POLL_FDS_MAX];
		struct signal_source *owner[POLL_FDS_MAX];
		size_t n = 0, n_sig, job_ix = 0;

		pfd[n++] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = timerfd, .events = POLLIN};
		for (size_t i = 0; i < m->n_signals && n < POLL_FDS_MAX; i++) {
			struct signal_source *s = &m->signals[i];
			int fd = s->ops->fd ? s->ops->fd(s) : -1;
			if (fd < 0)
				continue;
			owner[n] = s;
			pfd[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		}
		n_sig = n;
		/* A child job that finishes (a delete step, a backup, an
		 * interruption notice) ticks at once, not at the next interval. */
		job_ix = n;
		if (delete_seq_fd(m->delete) >= 0 && n < POLL_FDS_MAX)
			pfd[n++] = (struct pollfd){.fd = delete_seq_fd(m->delete), .events = POLLIN};
		if (monitor_backup_fd(m) >= 0 && n < POLL_FDS_MAX)
			pfd[n++] = (struct pollfd){.fd = monitor_backup_fd(m), .events = POLLIN};
		if (monitor_interrupt_fd(m) >= 0 && n < POLL_FDS_MAX)
			pfd[n++] = (struct pollfd){.fd = monitor_interrupt_fd(m), .events = POLLIN};
		if (poll(pfd, n, monitor_poll_timeout(m)) < 0) {
			if (errno == EINTR)
				continue;
			return log_error_errno(errno, "poll failed: %m");
		}
		if (pfd[0].revents)
			monitor_handle_signal(m, sigfd);
		if (m->stop)
			break;
		for (size_t i = 2; i < n_sig; i++)
			if (pfd[i].revents && owner[i]->ops->dispatch) {
				struct monitor_tick t = m->tick;
				t.now = now_usec(CLOCK_BOOTTIME);
				t.realtime = now_usec(CLOCK_REALTIME);
				owner[i]->ops->dispatch(owner[i], &t);
			}
		if (pfd[1].revents) {
			uint64_t expirations;
			if (read(timerfd, &expirations, sizeof(expirations)) > 0)
				monitor_tick(m);
		} else {
			for (size_t i = job_ix; i < n; i++)
				if (pfd[i].revents) {
					monitor_tick(m);
					break;
				}
		}
		monitor_watchdog(m);
	}
	return 0;
}

static int monitor_prepare(struct monitor *m, struct config *c)
{
	int r;

	m->config = c;
	m->started = now_usec(CLOCK_BOOTTIME);
	m->policy = (struct idle_policy){
		.timeout = c->idle_timeout,
		.warn_before = c->idle_warn_before,
		.boot_grace = c->idle_boot_grace,
		.max_lifetime = c->idle_max_lifetime,
	};
	m->state = IDLE_STATE_ACTIVE;
	if (monitor_delete_dry_run() && c->idle_action != IDLE_ACTION_DELETE) {
		log_event(LOG_ERR, MSGID_CONFIG_ERROR, NULL, 0,
			  "--dry-run shows the steps of idle.action \"delete\", but idle.action is "
			  "\"%s\"",
			  idle_action_to_string(c->idle_action));
		return -EOPNOTSUPP;
	}
	r = mkdir_p(c->runtime_dir, 0755);
	if (r < 0)
		return log_error_errno(r, "Cannot create runtime_dir %s: %m", c->runtime_dir);
	r = keepalive_dir_create(c);
	if (r < 0)
		return log_error_errno(r, "Cannot create %s/keepalive.d: %m", c->runtime_dir);
	m->status_path = xasprintf("%s/status.json", c->runtime_dir);
	m->keepalive_path = keepalive_dir(c);
	if (c->idle_action == IDLE_ACTION_DELETE) {
		r = delete_seq_new(c, m->started, monitor_delete_notify, m, &m->delete);
		if (r < 0)
			return r;
	}
	if (sd_watchdog_enabled(0, &m->watchdog_usec) <= 0)
		m->watchdog_usec = 0;
	m->watchdog_last = now_usec(CLOCK_MONOTONIC);
	return 0;
}

int monitor_run(struct config *c)
{
	struct monitor m = {0};
	_cleanup_close_ int sigfd = -1, timerfd = -1;
	char timeout[FORMAT_DURATION_MAX], interval[FORMAT_DURATION_MAX];
	int r;

	r = monitor_prepare(&m, c);
	if (r == -EOPNOTSUPP)
		return EXIT_CONFIG;
	if (r < 0)
		return 1;
	r = monitor_setup_fds(&m, &sigfd, &timerfd);
	if (r < 0) {
		log_error_errno(r, "Cannot set up timer and signal handling: %m");
		free(m.status_path);
		free(m.keepalive_path);
		return 1;
	}
	monitor_signals_init(&m);
	monitor_backup_init(&m);
	monitor_interrupt_init(&m);
	format_duration(timeout, sizeof(timeout), c->idle_timeout);
	format_duration(interval, sizeof(interval), c->idle_interval);
	log_event(LOG_INFO, MSGID_MONITOR_STARTED,
		  LOG_FIELDS({"AGENTBOX_ACTION", idle_action_to_string(c->idle_action)}), 1,
		  "agentbox-monitor %s started: %zu signals, idle after %s, action %s, sampling every %s",
		  AGENTBOX_VERSION, m.n_signals, timeout, idle_action_to_string(c->idle_action),
		  interval);
	monitor_tick(&m); /* the first sample, then READY=1 */
	r = monitor_loop(&m, sigfd, timerfd);
	monitor_notify(&m, "STOPPING=1");
	log_info("agentbox-monitor stopping");
	monitor_interrupt_done(&m);
	monitor_interrupt_stopping(&m);
	monitor_backup_done(&m);
	monitor_webhook_done();
	unlink(m.status_path);
	monitor_signals_done(&m);
	m.delete = delete_seq_free(m.delete);
	free(m.status_path);
	free(m.status_text);
	free(m.keepalive_path);
	return r < 0 ? 1 : 0;
}
