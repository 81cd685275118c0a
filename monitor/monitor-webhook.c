/* Webhook events, daemon side; see monitor-webhook.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "monitor-child.h"
#include "monitor-daemon.h"
#include "monitor-webhook.h"

#define WEBHOOK_CHILDREN_MAX 4

/* Child jobs (monitor-child.h) whose result is only their end: the sender
 * logs its own failures. */
static struct child_job senders[WEBHOOK_CHILDREN_MAX];

void monitor_webhook_reap(void)
{
	for (size_t i = 0; i < ELEMENTSOF(senders); i++)
		(void)child_job_poll(&senders[i]);
}

void monitor_webhook(struct monitor *m, const char *event, const char *message)
{
	const struct config *c = m->config;
	const char *config = c->path ? c->path : CONFIG_DEFAULT_PATH;
	_cleanup_free_ char *client = NULL;
	char host[256] = "";
	size_t slot = ELEMENTSOF(senders);
	cJSON *o;
	_cleanup_free_ char *line = NULL;
	char *text;
	int r;

	if (!c->notify_webhook_url_file)
		return;
	monitor_webhook_reap();
	for (size_t i = 0; i < ELEMENTSOF(senders); i++)
		if (!senders[i].pid && slot == ELEMENTSOF(senders))
			slot = i;
	if (slot == ELEMENTSOF(senders)) {
		log_warning("Webhook: %d events are still being sent; event %s not sent",
			    WEBHOOK_CHILDREN_MAX, event);
		return;
	}
	gethostname(host, sizeof(host) - 1);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "event", event);
	cJSON_AddStringToObject(o, "message", message);
	cJSON_AddStringToObject(o, "host", host);
	cJSON_AddStringToObject(o, "workspace", c->workspace_name);
	cJSON_AddNumberToObject(o, "time", (double)(now_usec(CLOCK_REALTIME) / USEC_PER_SEC));
	if (streq(event, WEBHOOK_IDLE_WARNING))
		cJSON_AddStringToObject(o, "hint", "agentbox keepalive 2h");
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	/* one line well under PIPE_BUF into an empty pipe: never blocks */
	line = xasprintf("%s\n", text);
	cJSON_free(text);
	client = monitor_client_path();
	{
		char *argv[] = {client, (char *)"--config", (char *)config,
				(char *)"internal-notify", NULL};
		r = child_job_start(&senders[slot], argv, line);
	}
	if (r < 0)
		log_warning_errno(r, "Webhook: cannot start the sender, event %s not sent: %m",
				  event);
}

void monitor_webhook_done(void)
{
	/* bounded: a sender gives up after its retries; we wait 2 s at most */
	for (int k = 0; k < 200; k++) {
		int running = 0;

		monitor_webhook_reap();
		for (size_t i = 0; i < ELEMENTSOF(senders); i++)
			running |= senders[i].pid != 0;
		if (!running)
			return;
		usleep(10000);
	}
}
