/* The client side of the delete jobs ("agentbox internal-delete-job
 * KIND"), run by agentbox-monitor; see monitor-delete-job.h. Not for
 * people: it reads the monitor's JSON request on stdin and writes its
 * result as one JSON object. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "monitor-delete-job.h"
#include "provider.h"
#include "state.h"

/* Does the work of one job, as the monitor's worker thread once did. */
static void delete_job_work(const struct config *c, enum job_kind kind,
			    const struct provider_identity *expect, struct delete_job_out *out)
{
	switch (kind) {
	case JOB_IDENTIFY:
		out->r = provider_detect(c, &out->id, out->why, sizeof(out->why));
		out->shutdown_terminates = -ENODATA;
		if (out->r < 0)
			break;
		out->ready_r = provider_check_ready(c, &out->id, out->ready_why, sizeof(out->ready_why));
		out->shutdown_terminates = provider_poweroff_deletes(c, &out->id, out->shutdown_why,
								     sizeof(out->shutdown_why));
		out->method = provider_method(c, &out->id);
		provider_describe_delete(c, &out->id, out->plan, sizeof(out->plan));
		break;

	case JOB_BACKUP: {
		usec_t t0 = now_usec(CLOCK_MONOTONIC);
		struct state_backup_result b = {0};

		out->r = state_backup(c, &b);
		if (out->r >= 0 && !b.generation[0]) {
			snprintf(out->why, sizeof(out->why), "the backup named no generation");
			out->r = -EBADMSG;
		}
		if (out->r >= 0) {
			/* Verify: the generation read back, streamed, must hash to
			 * what its manifest recorded at upload. A skipped backup
			 * verifies the generation it names: the one to restore. */
			out->r = state_verify(c, b.generation, out->why, sizeof(out->why));
			out->verify_failed = out->r < 0;
			snprintf(out->generation, sizeof(out->generation), "%s", b.generation);
		} else if (!out->why[0])
			snprintf(out->why, sizeof(out->why), "%s",
				 out->r == -ENOMEDIUM ? "no state storage is configured"
						    : strerror(-out->r));
		out->duration = now_usec(CLOCK_MONOTONIC) - t0;
		break;
	}

	case JOB_DELETE:
		/* The identity once more, right before the request. */
		out->r = provider_detect(c, &out->id, out->why, sizeof(out->why));
		if (out->r < 0) {
			snprintf(out->result.detail, sizeof(out->result.detail),
				 "identity unknown right before the delete: %s", out->why);
			break;
		}
		if (!provider_identity_equal(&out->id, &(*expect))) {
			snprintf(out->result.detail, sizeof(out->result.detail),
				 "the instance identity changed: %s %s before, %s %s now",
				 expect->provider, expect->instance_id, out->id.provider,
				 out->id.instance_id);
			out->r = -ESTALE;
			break;
		}
		/* Give the state lease back, so that the next VM restores at once
		 * (best effort: a lease left behind expires after state.lease_ttl). */
		if (!c->idle_delete_without_backup && c->state_storage_bucket) {
			int k = state_lease_release(c);
			if (k < 0)
				log_warning_errno(k,
						  "Cannot release the state lease, going on: %m");
		}
		if (provider_method(c, &out->id) == PROVIDER_METHOD_POWEROFF) {
			snprintf(out->result.request, sizeof(out->result.request),
				 "systemctl poweroff");
			out->poweroff = 1;
			out->r = 0;
			break;
		}
		out->r = provider_delete(c, &out->id, &out->result);
		break;

	case JOB_NONE:
		break;
	}
}

#define DELETE_JOB_REQUEST_MAX 4096

int cli_delete_job(struct config *c, int argc, char **argv)
{
	struct provider_identity expect;
	struct delete_job_out out = {0};
	enum job_kind kind = JOB_NONE;
	char in[DELETE_JOB_REQUEST_MAX];
	size_t got = 0;
	cJSON *req, *res;
	char *text;
	int r;

	for (int k = JOB_IDENTIFY; k <= JOB_DELETE; k++)
		if (argc == 2 && streq(argv[1], delete_job_kind_to_string(k)))
			kind = k;
	if (kind == JOB_NONE || isatty(STDOUT_FILENO)) {
		fprintf(stderr, "agentbox internal-delete-job is run by agentbox-monitor only\n");
		return EXIT_CONFIG;
	}
	while (got < sizeof(in) - 1) {
		ssize_t n = read(STDIN_FILENO, in + got, sizeof(in) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	in[got] = '\0';
	req = cJSON_Parse(in);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(req, "expect"))) {
		cJSON_Delete(req);
		fprintf(stderr, "agentbox internal-delete-job: bad request from the monitor\n");
		return 1;
	}
	delete_job_identity_parse(cJSON_GetObjectItemCaseSensitive(req, "expect"), &expect);
	cJSON_Delete(req);
	provider_global_init();
	delete_job_work(c, kind, &expect, &out);
	res = delete_job_out_json(&out);
	text = cJSON_PrintUnformatted(res);
	cJSON_Delete(res);
	r = printf("%s\n", text) < 0 || fflush(stdout) != 0 ? 1 : 0;
	cJSON_free(text);
	return r;
}
