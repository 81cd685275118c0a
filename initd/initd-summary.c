/* The end of a successful bring-up: one summary block on stdout, the
 * MSGID_INIT_READY journal event, and READY=1 for systemd. */
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "initd.h"
#include "log.h"

/* The display's web port (display.web_port's default). */
#define INITD_NOVNC_PORT 6080

static const char *const step_names[_INITD_STEP_MAX] = {
    [INITD_STEP_CONFIG] = "config",	[INITD_STEP_IDENTITY] = "identity",
    [INITD_STEP_DOCKER] = "docker",	[INITD_STEP_PULL] = "pull",
    [INITD_STEP_RESTORE] = "restore",	[INITD_STEP_CONTAINER] = "container",
    [INITD_STEP_SERVICES] = "services",
};

const char *initd_step_to_string(enum initd_step s)
{
	return s >= 0 && s < _INITD_STEP_MAX ? step_names[s] : "unknown";
}

static void ms(char *buf, size_t size, usec_t u)
{
	if (u >= 10 * USEC_PER_SEC)
		snprintf(buf, size, "%.1fs", (double)u / 1e6);
	else if (u >= USEC_PER_SEC)
		snprintf(buf, size, "%.2fs", (double)u / 1e6);
	else
		snprintf(buf, size, "%llums", (unsigned long long)(u / USEC_PER_MSEC));
}

void initd_ready(struct initd *i, usec_t total)
{
	const struct config *c = i->config;
	char steps[512] = "", t[32], total_ms[32], pull_ms[32], restore_ms[32];
	const char *gen = i->generation ? i->generation : "none";

	for (int s = 0; s < _INITD_STEP_MAX; s++) {
		if (!i->step_ran[s])
			continue;
		ms(t, sizeof(t), i->step_usec[s]);
		snprintf(steps + strlen(steps), sizeof(steps) - strlen(steps), "%s%s %s",
			 steps[0] ? ", " : "", step_names[s], t);
	}
	ms(t, sizeof(t), total);
	printf("agentbox workspace \"%s\" is ready\n"
	       "  container  %s (%s, %.12s)\n"
	       "  image      %s\n"
	       "  digest     %s\n"
	       "  state      generation %s (%s)\n"
	       "  instance   %s (provider %s)\n"
	       "  connect    ssh %s@%s\n"
	       "             docker exec -it %s sh\n"
	       "  noVNC      ssh -L %d:localhost:%d %s@%s, then http://localhost:%d/vnc.html\n"
	       "  steps      %s (pull and restore in parallel)\n"
	       "  total      %s\n",
	       c->workspace_name, i->container_name, strempty(i->container_outcome),
	       strempty(i->container_id), c->workspace_image, strempty(i->image_digest), gen,
	       strempty(i->restore_outcome), i->instance, i->provider, c->workspace_user,
	       i->address, i->container_name, INITD_NOVNC_PORT, INITD_NOVNC_PORT, c->workspace_user,
	       i->address, INITD_NOVNC_PORT, steps, t);
	fflush(stdout);

	snprintf(total_ms, sizeof(total_ms), "%llu", (unsigned long long)(total / USEC_PER_MSEC));
	snprintf(pull_ms, sizeof(pull_ms), "%llu",
		 (unsigned long long)(i->step_usec[INITD_STEP_PULL] / USEC_PER_MSEC));
	snprintf(restore_ms, sizeof(restore_ms), "%llu",
		 (unsigned long long)(i->step_usec[INITD_STEP_RESTORE] / USEC_PER_MSEC));
	log_event(LOG_NOTICE, MSGID_INIT_READY,
		  LOG_FIELDS({"AGENTBOX_WORKSPACE", c->workspace_name},
			     {"AGENTBOX_CONTAINER", i->container_name},
			     {"AGENTBOX_IMAGE_DIGEST", strempty(i->image_digest)},
			     {"AGENTBOX_GENERATION", gen}, {"AGENTBOX_ELAPSED_MS", total_ms},
			     {"AGENTBOX_PULL_MS", pull_ms}, {"AGENTBOX_RESTORE_MS", restore_ms}),
		  7, "Workspace %s ready in %s: %s", c->workspace_name, t, steps);
	sd_notifyf(0, "READY=1\nSTATUS=Workspace %s ready (%s)", c->workspace_name, t);
	/* we exit right after: let systemd take READY=1 from us while we live */
	(void)sd_notify_barrier(0, 5 * USEC_PER_SEC);
}
