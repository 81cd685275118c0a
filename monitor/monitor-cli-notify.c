/* "agentbox internal-notify", run by agentbox-monitor: posts the event it
 * gets on stdin (one JSON line) to the URL in notify.webhook_url_file, in
 * notify.format: "json" (the event document), "text" (text/plain, as ntfy
 * takes it) or "slack" ({"text": ...}, Slack-style incoming webhooks).
 * Up to three attempts (lib/http.c's backoff from 1 s, with jitter) on no
 * answer, 429 and 5xx. The URL is a secret: it is never logged. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "monitor-cli-notify.h"
#include "provider-http.h"
#include "provider.h"

/* A refusal (4xx but 408/429) gets the same answer again: not retried. */
static const struct http_policy webhook_policy = {
    .attempts = 3,
    .base_delay = USEC_PER_SEC,
    .max_delay = 4 * USEC_PER_SEC,
    .retry = HTTP_TRANSIENT | HTTP_5XX | HTTP_429 | HTTP_408,
};
#define WEBHOOK_TIMEOUT (10 * USEC_PER_SEC)
#define WEBHOOK_EVENT_MAX 16384

/* The body to post, and its Content-Type header. */
static char *webhook_body(const struct config *c, const char *event_json, const char **ret_type)
{
	cJSON *ev = cJSON_Parse(event_json), *o;
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ev, "message");
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(ev, "host");
	char *text, *body;

	text = xasprintf("agentbox %s: %s", cJSON_IsString(host) ? host->valuestring : "?",
			 cJSON_IsString(msg) ? msg->valuestring : "");
	cJSON_Delete(ev);
	switch (c->notify_format) {
	case NOTIFY_FORMAT_TEXT:
		*ret_type = "Content-Type: text/plain; charset=utf-8";
		return text;
	case NOTIFY_FORMAT_SLACK:
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "text", text);
		body = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		free(text);
		*ret_type = "Content-Type: application/json";
		return body;
	default:
		free(text);
		*ret_type = "Content-Type: application/json";
		return xstrdup(event_json);
	}
}

int cli_notify(struct config *c, int argc, char **argv)
{
	_cleanup_secret_ char *url = NULL;
	_cleanup_free_ char *event = xmalloc(WEBHOOK_EVENT_MAX), *body = NULL;
	struct http_response resp = {0};
	const char *type = NULL, *reason = NULL, *err = NULL;
	struct curl_slist *h = NULL;
	size_t got = 0;
	long status = 0;
	int r = -EIO;

	(void)argv;
	if (argc != 1 || isatty(STDIN_FILENO)) {
		fprintf(stderr, "agentbox internal-notify is run by agentbox-monitor only\n");
		return EXIT_CONFIG;
	}
	while (got < WEBHOOK_EVENT_MAX - 1) {
		ssize_t n = read(STDIN_FILENO, event + got, WEBHOOK_EVENT_MAX - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	event[got] = '\0';
	event[strcspn(event, "\n")] = '\0';
	if (!c->notify_webhook_url_file)
		return 0;
	r = read_secret(c->notify_webhook_url_file, &url, &reason);
	if (r < 0) {
		log_warning("Webhook not sent: notify.webhook_url_file %s %s",
			    c->notify_webhook_url_file, strempty(reason));
		return 1;
	}
	url[strcspn(url, "\r\n")] = '\0';
	if (!startswith(url, "https://") && !startswith(url, "http://")) {
		log_warning("Webhook not sent: notify.webhook_url_file %s holds no http(s) URL",
			    c->notify_webhook_url_file);
		return 1;
	}
	body = webhook_body(c, event, &type);
	h = curl_slist_append(h, type);
	provider_global_init();
	r = http_send_retry(&webhook_policy,
			    &(struct http_request){.method = "POST",
						   .url = url,
						   .headers = h,
						   .body = body,
						   .timeout = WEBHOOK_TIMEOUT},
			    &resp, &err);
	status = resp.status;
	http_response_done(&resp);
	curl_slist_free_all(h);
	if (r == 0 && status >= 200 && status < 300)
		return 0;
	/* the URL (a secret) is named by its file only */
	if (r < 0)
		log_warning("Webhook (notify.webhook_url_file %s) not reached: %s",
			    c->notify_webhook_url_file, strempty(err));
	else
		log_warning("Webhook (notify.webhook_url_file %s) answered HTTP %ld",
			    c->notify_webhook_url_file, status);
	return 1;
}
