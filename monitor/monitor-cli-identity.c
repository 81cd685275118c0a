/* agentbox identity, and the delete part of agentbox status. */
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "macro.h"
#include "monitor-cli-identity.h"
#include "provider.h"
#include "time-util.h"

int cmd_identity(struct config *c, int argc, char **argv)
{
	struct provider_identity id;
	char why[PROVIDER_TEXT_MAX], text[PROVIDER_TEXT_MAX], plan[PROVIDER_TEXT_MAX];
	int json = 0, r;

	for (int i = 1; i < argc; i++) {
		if (!streq(argv[i], "--json")) {
			fprintf(stderr, "agentbox identity: unknown option '%s'\n", argv[i]);
			return EXIT_CONFIG;
		}
		json = 1;
	}
	provider_global_init();
	r = provider_detect(c, &id, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "Instance identity unknown: %s\n", why);
		return 1;
	}
	provider_describe_delete(c, &id, plan, sizeof(plan));
	if (json) {
		cJSON *o = cJSON_CreateObject();
		char *out;

		cJSON_AddStringToObject(o, "provider", id.provider);
		cJSON_AddStringToObject(o, "instance_id", id.instance_id);
		cJSON_AddStringToObject(o, "region", id.region);
		cJSON_AddStringToObject(o, "zone", id.zone);
		cJSON_AddStringToObject(o, "hostname", id.hostname);
		cJSON_AddStringToObject(o, "public_ipv4", id.public_ipv4);
		cJSON_AddStringToObject(o, "delete", plan);
		out = cJSON_Print(o);
		printf("%s\n", out);
		cJSON_free(out);
		cJSON_Delete(o);
		return 0;
	}
	provider_identity_describe(&id, text, sizeof(text));
	printf("%s\ndelete: %s\n", text, plan);
	return 0;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

void print_delete_status(const cJSON *root)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "identity");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "delete");
	const cJSON *since = cJSON_GetObjectItemCaseSensitive(d, "since");
	char when[FORMAT_UTC_MAX] = "";

	if (cJSON_IsObject(id))
		printf("instance:       %s %s (region %s)\n", strempty(str(id, "provider")),
		       strempty(str(id, "instance_id")), strempty(str(id, "region")));
	else if (str(root, "identity_error"))
		printf("instance:       unknown: %s (nothing will be deleted)\n",
		       str(root, "identity_error"));
	if (!cJSON_IsObject(d))
		return;
	if (cJSON_IsNumber(since))
		format_utc(when, sizeof(when), (time_t)since->valuedouble);
	printf("delete step:    %s since %s%s\n", strempty(str(d, "step")), when,
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "dry_run")) ? " (dry run)" : "");
	if (str(d, "plan"))
		printf("delete plan:    %s\n", str(d, "plan"));
	if (str(d, "generation"))
		printf("final backup:   %s\n", str(d, "generation"));
	if (str(d, "request"))
		printf("delete request: %s\n", str(d, "request"));
	if (str(d, "detail"))
		printf("delete detail:  %s\n", str(d, "detail"));
}
