/* Webhook events, daemon side; see monitor-webhook.h. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "monitor-child.h"
#include "monitor-daemon.h"
#include "monitor-webhook.h"

#define WEBHOOK_CHILDREN_MAX 4

static pid_t senders[WEBHOOK_CHILDREN_MAX];

void monitor_webhook_reap(void)
{
	int status;

	for (size_t i = 0; i < ELEMENTSOF(senders); i++)
		if (senders[i] && waitpid(senders[i], &status, WNOHANG) == senders[i])
			senders[i] = 0;
}

void monitor_webhook(struct monitor *m, const char *event, const char *message)
{
	const struct config *c = m->config;
	const char *config = c->path ? c->path : CONFIG_DEFAULT_PATH;
	_cleanup_free_ char *client = NULL;
	char host[256] = "";
	size_t slot = ELEMENTSOF(senders);
	cJSON *o;
	char *line;
	int in = -1, out = -1, r;

	if (!c->notify_webhook_url_file)
		return;
	monitor_webhook_reap();
	for (size_t i = 0; i < ELEMENTSOF(senders); i++)
		if (!senders[i] && slot == ELEMENTSOF(senders))
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
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	client = monitor_client_path();
	{
		char *argv[] = {client, (char *)"--config", (char *)config,
				(char *)"internal-notify", NULL};
		r = monitor_child_spawn(argv, &senders[slot], &in, &out);
	}
	if (r < 0) {
		senders[slot] = 0;
		log_warning_errno(r, "Webhook: cannot start the sender, event %s not sent: %m",
				  event);
		cJSON_free(line);
		return;
	}
	/* one line well under PIPE_BUF into an empty pipe: never blocks */
	if (write(in, line, strlen(line)) < 0 || write(in, "\n", 1) < 0)
		log_warning_errno(errno, "Webhook: cannot hand event %s to the sender: %m", event);
	close(in);
	close(out);
	cJSON_free(line);
}

void monitor_webhook_done(void)
{
	/* bounded: a sender gives up after its retries; we wait 2 s at most */
	for (int k = 0; k < 200; k++) {
		int running = 0;

		monitor_webhook_reap();
		for (size_t i = 0; i < ELEMENTSOF(senders); i++)
			running |= senders[i] != 0;
		if (!running)
			return;
		usleep(10000);
	}
}
