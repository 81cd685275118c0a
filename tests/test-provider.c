/* lib/provider parsers and config keys, and the monitor's delete sequence
 * with provider "none" (which sends nothing anywhere). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "macro.h"
#include "monitor-delete.h"
#include "provider.h"
#include "tests.h"
#include "xml.h"

/* The delete jobs run in the agentbox client: the one of this build. */
__attribute__((constructor)) static void set_client(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		char *client = xasprintf("%s/../bin/agentbox", self);
		setenv("AGENTBOX_CLIENT", client, 0);
		free(client);
	}
}

TEST(hetzner_metadata_parse_good)
{
	struct provider_identity id;
	char why[256];

	ASSERT_OK(hetzner_metadata_parse("availability-zone: fsn1-dc14\nhostname: 'ws-1'\n"
					 "instance-id: 42\npublic-ipv4: 192.0.2.1\n"
					 "region: eu-central\nvendor_data: |\n  instance-id: 7\n",
					 &id, why, sizeof(why)));
	ASSERT_STR_EQ(id.instance_id, "42");
	ASSERT_STR_EQ(id.hostname, "ws-1");
	ASSERT_STR_EQ(id.region, "eu-central");
	ASSERT_STR_EQ(id.zone, "fsn1-dc14");
	ASSERT_STR_EQ(id.public_ipv4, "192.0.2.1");
	ASSERT_STR_EQ(id.provider, "hetzner");
}

TEST(hetzner_metadata_parse_bad)
{
	struct provider_identity id;
	char why[256];

	ASSERT_ERR(hetzner_metadata_parse("", &id, why, sizeof(why)), -EBADMSG);
	ASSERT_STR_CONTAINS(why, "empty");
	ASSERT_ERR(hetzner_metadata_parse("hostname: x\n", &id, why, sizeof(why)), -EBADMSG);
	ASSERT_STR_CONTAINS(why, "no instance-id");
	ASSERT_ERR(hetzner_metadata_parse("instance-id: 12a\n", &id, why, sizeof(why)), -EBADMSG);
	ASSERT_STR_CONTAINS(why, "malformed instance-id");
	ASSERT_ERR(hetzner_metadata_parse("instance-id: -1\n", &id, why, sizeof(why)), -EBADMSG);
	ASSERT_ERR(hetzner_metadata_parse("instance-id: 0042\n", &id, why, sizeof(why)), -EBADMSG);
	/* a nested instance-id does not count */
	ASSERT_ERR(
	    hetzner_metadata_parse("vendor_data: |\n  instance-id: 7\n", &id, why, sizeof(why)),
	    -EBADMSG);
	ASSERT_ERR(hetzner_metadata_parse("instance-id: 4\x01\n", &id, why, sizeof(why)), -EBADMSG);
}

TEST(scaleway_metadata_parse_cases)
{
	struct provider_identity id;
	char why[256];

	ASSERT_OK(scaleway_metadata_parse(
	    "{\"id\": \"0f6b3c2e-9c5a-4b9e-8f2a-1d2e3f4a5b6c\", \"hostname\": \"ws\", "
	    "\"location\": {\"zone_id\": \"nl-ams-2\"}, \"public_ip\": {\"address\": "
	    "\"192.0.2.5\"}}",
	    &id, why, sizeof(why)));
	ASSERT_STR_EQ(id.provider, "scaleway");
	ASSERT_STR_EQ(id.instance_id, "0f6b3c2e-9c5a-4b9e-8f2a-1d2e3f4a5b6c");
	ASSERT_STR_EQ(id.zone, "nl-ams-2");
	ASSERT_STR_EQ(id.region, "nl-ams");
	ASSERT_STR_EQ(id.public_ipv4, "192.0.2.5");
	/* the older top-level "zone" */
	ASSERT_OK(scaleway_metadata_parse(
	    "{\"id\": \"0f6b3c2e-9c5a-4b9e-8f2a-1d2e3f4a5b6c\", \"zone\": \"fr-par-1\"}", &id,
	    why, sizeof(why)));
	ASSERT_STR_EQ(id.region, "fr-par");
	ASSERT_ERR(scaleway_metadata_parse("not json", &id, why, sizeof(why)), -EBADMSG);
	ASSERT_ERR(scaleway_metadata_parse("{\"id\": \"42\", \"zone\": \"fr-par-1\"}", &id, why,
					   sizeof(why)),
		   -EBADMSG);
	ASSERT_STR_CONTAINS(why, "no valid server id");
	ASSERT_ERR(scaleway_metadata_parse("{\"id\": \"0f6b3c2e-9c5a-4b9e-8f2a-1d2e3f4a5b6c\", "
					   "\"zone\": \"../x\"}",
					   &id, why, sizeof(why)),
		   -EBADMSG);
	ASSERT_STR_CONTAINS(why, "no valid zone");
	/* upper case is not a Scaleway id: it would not name the same server */
	ASSERT_ERR(scaleway_metadata_parse("{\"id\": \"0F6B3C2E-9C5A-4B9E-8F2A-1D2E3F4A5B6C\", "
					   "\"zone\": \"fr-par-1\"}",
					   &id, why, sizeof(why)),
		   -EBADMSG);
}

TEST(digitalocean_metadata_parse_cases)
{
	struct provider_identity id;
	char why[256];

	ASSERT_OK(digitalocean_metadata_parse(
	    "{\"droplet_id\": 3164444, \"hostname\": \"ws-do\", \"region\": \"fra1\", "
	    "\"interfaces\": {\"public\": [{\"ipv4\": {\"ip_address\": \"192.0.2.40\"}}]}}",
	    &id, why, sizeof(why)));
	ASSERT_STR_EQ(id.provider, "digitalocean");
	ASSERT_STR_EQ(id.instance_id, "3164444");
	ASSERT_STR_EQ(id.region, "fra1");
	ASSERT_STR_EQ(id.public_ipv4, "192.0.2.40");
	ASSERT_ERR(digitalocean_metadata_parse("{\"droplet_id\": 1.5, \"region\": \"x\"}", &id,
					       why, sizeof(why)),
		   -EBADMSG);
	ASSERT_ERR(digitalocean_metadata_parse("{\"droplet_id\": -3, \"region\": \"x\"}", &id,
					       why, sizeof(why)),
		   -EBADMSG);
	ASSERT_ERR(digitalocean_metadata_parse("{\"droplet_id\": \"3\", \"region\": \"x\"}", &id,
					       why, sizeof(why)),
		   -EBADMSG);
	ASSERT_ERR(digitalocean_metadata_parse("{\"droplet_id\": 1e300, \"region\": \"x\"}", &id,
					       why, sizeof(why)),
		   -EBADMSG);
	ASSERT_ERR(digitalocean_metadata_parse("{\"droplet_id\": 3}", &id, why, sizeof(why)),
		   -EBADMSG);
	ASSERT_STR_CONTAINS(why, "no valid region");
}

TEST(provider_table)
{
	const char *const *names = provider_names();
	_cleanup_(config_freep) struct config *c = config_new();
	struct provider_identity none = {.provider = "none"};
	char buf[512];

	ASSERT_STR_EQ(names[0], "auto");
	for (int i = 1; names[i]; i++) {
		const struct provider_ops *p = provider_find(names[i]);
		ASSERT_TRUE(p != NULL);
		ASSERT_TRUE(p->identify && p->method && p->describe_delete);
		/* a row that deletes by API has the call */
		ASSERT_TRUE(p->method(c) != PROVIDER_METHOD_API || p->delete_once);
	}
	ASSERT_TRUE(provider_find("aws") == NULL);
	ASSERT_INT_EQ(provider_method(c, &none), PROVIDER_METHOD_NOTHING);
	ASSERT_ERR(provider_poweroff_deletes(c, &none, buf, sizeof(buf)), -EOPNOTSUPP);
	ASSERT_ERR(provider_interruption(c, &none, buf, sizeof(buf)), -EOPNOTSUPP);
}

TEST(instance_ids)
{
	ASSERT_TRUE(provider_valid_hetzner_id("1"));
	ASSERT_TRUE(provider_valid_hetzner_id("123456789"));
	ASSERT_FALSE(provider_valid_hetzner_id(""));
	ASSERT_FALSE(provider_valid_hetzner_id("01"));
	ASSERT_FALSE(provider_valid_hetzner_id("12345678901234567890"));
	ASSERT_FALSE(provider_valid_hetzner_id("1 2"));
	ASSERT_TRUE(provider_valid_ec2_id("i-0123456789abcdef0"));
	ASSERT_TRUE(provider_valid_ec2_id("i-12345678"));
	ASSERT_FALSE(provider_valid_ec2_id("i-0123456789ABCDEF0"));
	ASSERT_FALSE(provider_valid_ec2_id("i-123"));
	ASSERT_FALSE(provider_valid_ec2_id("0123456789abcdef0"));
	ASSERT_FALSE(provider_valid_ec2_id("i-0123456789abcdefg"));
}

TEST(xml_tags)
{
	char buf[64], xml[] = "<a><currentState><code>32</code><name>shutting-down</name>"
			      "</currentState></a>";

	ASSERT_OK(xml_tag_text(xml, "code", buf, sizeof(buf)));
	ASSERT_STR_EQ(buf, "32");
	ASSERT_ERR(xml_tag_text(xml, "missing", buf, sizeof(buf)), -ENOENT);
	ASSERT_OK(xml_tag_text(xml, "currentState", xml, sizeof(xml)));
	ASSERT_OK(xml_tag_text(xml, "name", xml, sizeof(xml)));
	ASSERT_STR_EQ(xml, "shutting-down");
	ASSERT_ERR(xml_tag_text("<a>open", "a", buf, sizeof(buf)), -EINVAL);
}

static int load(const char *json, char **error)
{
	_cleanup_(config_freep) struct config *c = config_new();
	int r;

	*error = NULL;
	r = config_load_string(c, json, "t", error);
	if (r >= 0) {
		c->workspace_home = xstrdup("/tmp");
		r = config_finish(c, error);
	}
	return r;
}

TEST(config_keys)
{
	_cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL;
	_cleanup_(config_freep) struct config *c = config_new();

	ASSERT_STR_EQ(c->provider_name, "auto");
	ASSERT_INT_EQ(c->provider_ec2_terminate, EC2_TERMINATE_SHUTDOWN);
	ASSERT_STR_EQ(c->provider_hetzner_api_url, "https://api.hetzner.cloud/v1");
	ASSERT_TRUE(c->provider_hetzner_token_file == NULL);
	ASSERT_FALSE(c->idle_delete_without_backup);
	ASSERT_ERR(load("{\"provider\": {\"name\": \"aws\"}}", &e1), -EINVAL);
	ASSERT_STR_CONTAINS(e1, "provider.name: expected one of \"auto\", \"hetzner\", "
				"\"digitalocean\", \"ec2\", \"scaleway\", \"none\", got \"aws\"");
	ASSERT_ERR(load("{\"provider\": {\"delete_retries\": 1.5}}", &e2), -EINVAL);
	ASSERT_STR_CONTAINS(e2, "provider.delete_retries: must be a whole number");
	ASSERT_ERR(load("{\"provider\": {\"hetzner\": {\"api_url\": \"ftp://x\"}}}", &e3), -EINVAL);
	ASSERT_STR_CONTAINS(e3, "provider.hetzner.api_url: expected an http");
	ASSERT_ERR(load("{\"provider\": {\"ec2\": {\"terminate\": \"stop\"}}}", &e4), -EINVAL);
	ASSERT_STR_CONTAINS(e4, "provider.ec2.terminate");
	ASSERT_ERR(load("{\"idle\": {\"delete_without_backup\": \"yes\"}}", &e5), -EINVAL);
	ASSERT_STR_CONTAINS(e5, "idle.delete_without_backup: expected true or false");
}

TEST(describe_delete)
{
	_cleanup_(config_freep) struct config *c = config_new();
	struct provider_identity h = {.provider = "hetzner", .instance_id = "42"};
	struct provider_identity e = {
	    .provider = "ec2", .instance_id = "i-12345678", .region = "eu-west-1"};
	char buf[512];

	provider_describe_delete(c, &h, buf, sizeof(buf));
	ASSERT_STR_CONTAINS(buf, "DELETE https://api.hetzner.cloud/v1/servers/42");
	provider_describe_delete(c, &e, buf, sizeof(buf));
	ASSERT_STR_CONTAINS(buf, "systemctl poweroff");
	c->provider_ec2_terminate = EC2_TERMINATE_API;
	provider_describe_delete(c, &e, buf, sizeof(buf));
	ASSERT_STR_CONTAINS(buf, "https://ec2.eu-west-1.amazonaws.com/ Action=TerminateInstances "
				 "InstanceId.1=i-12345678");
	ASSERT_INT_EQ(provider_method(c, &e), PROVIDER_METHOD_API);
	ASSERT_TRUE(provider_identity_equal(&e, &e));
	ASSERT_FALSE(provider_identity_equal(&e, &h));
}

/* The daemon's side of the delete sequence, as far as the sequence sees
 * it: the tick it is told, and the state its answers lead to. */
struct seq_run {
	struct delete_seq *s;
	struct delete_tick t;
	enum idle_state state;
	char events[1024]; /* "event: message\n" for each event the sequence raised */
};

/* The daemon sends these as webhooks; here they are only recorded. */
static void seq_notify(void *userdata, const char *event, const char *message)
{
	struct seq_run *run = userdata;
	size_t len = strlen(run->events);

	snprintf(run->events + len, sizeof(run->events) - len, "%s: %s\n", event, message);
}

/* Drives the delete sequence tick by tick until its step is 'want' (or
 * 2 s pass); returns the step reached. */
static char *drive(struct seq_run *run, const char *want)
{
	static char step[32];

	for (int i = 0; i < 200; i++) {
		cJSON *root = cJSON_CreateObject();
		const cJSON *d;

		run->t.now += 10 * USEC_PER_MSEC;
		if (run->state == IDLE_STATE_ACTING || run->state == IDLE_STATE_IDLE)
			run->state = delete_seq_act(run->s, &run->t) == DELETE_WANT_ACTIVE
					     ? IDLE_STATE_ACTIVE
					     : IDLE_STATE_ACTING;
		delete_seq_poll(run->s, run->t.now);
		delete_seq_status(run->s, root);
		d = cJSON_GetObjectItemCaseSensitive(root, "delete");
		snprintf(step, sizeof(step), "%s",
			 cJSON_GetObjectItemCaseSensitive(d, "step")->valuestring);
		cJSON_Delete(root);
		if (streq(step, want))
			return step;
		usleep(10000);
	}
	return step;
}

/* An idle box, 100 s after boot, quiet since 1 s. */
static void seq_run_start(struct seq_run *run, const struct config *c)
{
	*run = (struct seq_run){.state = IDLE_STATE_IDLE,
				.t = {.now = 100 * USEC_PER_SEC,
				      .decision = IDLE_STATE_IDLE,
				      .last_activity = USEC_PER_SEC}};
	ASSERT_OK(delete_seq_new(c, run->t.now, seq_notify, run, &run->s));
}

static void remove_dir(const char *dir)
{
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);

	if (system(cmd) != 0)
		printf("  cannot remove %s\n", dir);
}

static struct config *sequence_config(char *dir)
{
	struct config *c = config_new();

	free(c->provider_name);
	c->provider_name = xstrdup("none");
	c->idle_delete_without_storage = 1;
	free(c->state_dir);
	c->state_dir = xstrdup(dir);
	c->idle_action = IDLE_ACTION_DELETE;
	c->workspace_home = xstrdup(dir);
	/* the delete jobs run in a child "agentbox", which reads the file */
	{
		_cleanup_free_ char *json = config_to_json(c);
		_cleanup_free_ char *path = xasprintf("%s/agentbox.json", dir);
		FILE *f = fopen(path, "w");
		if (f) {
			fputs(json, f);
			fclose(f);
		}
		c->path = TAKE_PTR(path);
	}
	return c;
}

TEST(sequence_provider_none)
{
	char dir[] = "/tmp/test-provider.XXXXXX";
	_cleanup_(config_freep) struct config *c = NULL;
	struct seq_run run;

	ASSERT_NOT_NULL(mkdtemp(dir));
	c = sequence_config(dir);
	seq_run_start(&run, c);
	ASSERT_STR_EQ(drive(&run, "deleted"), "deleted");
	ASSERT_INT_EQ(run.state, IDLE_STATE_ACTING);
	ASSERT_STR_EQ(run.events, "action: Idle: deleting this instance after a verified final "
				  "backup\n");
	run.s = delete_seq_free(run.s);
	remove_dir(dir);
}

TEST(sequence_activity_after_backup_aborts)
{
	char dir[] = "/tmp/test-provider.XXXXXX";
	_cleanup_(config_freep) struct config *c = NULL;
	struct seq_run run;

	ASSERT_NOT_NULL(mkdtemp(dir));
	c = sequence_config(dir);
	seq_run_start(&run, c);
	/* Activity far in the future: whenever the backup started, it is later. */
	run.t.last_activity = 1000 * USEC_PER_SEC;
	ASSERT_STR_EQ(drive(&run, "none"), "none");
	ASSERT_INT_EQ(run.state, IDLE_STATE_ACTIVE);
	run.s = delete_seq_free(run.s);
	remove_dir(dir);
}

TEST(sequence_no_storage_no_delete)
{
	char dir[] = "/tmp/test-provider.XXXXXX";
	_cleanup_(config_freep) struct config *c = NULL;
	struct seq_run run;

	ASSERT_NOT_NULL(mkdtemp(dir));
	c = sequence_config(dir);
	c->idle_delete_without_storage = 0;
	seq_run_start(&run, c);
	ASSERT_STR_EQ(drive(&run, "failed"), "failed");
	ASSERT_STR_CONTAINS(delete_seq_error(run.s), "no final backup");
	ASSERT_INT_EQ(run.state, IDLE_STATE_ACTING);
	ASSERT_STR_CONTAINS(run.events, "action: Idle: deleting this instance");
	ASSERT_STR_CONTAINS(run.events, "\ndelete_refused: Delete refused, nothing deleted, the "
					"box stays up: ");
	ASSERT_STR_CONTAINS(run.events, "no final backup");
	run.s = delete_seq_free(run.s);
	remove_dir(dir);
}

TEST(sequence_restore_failed_marker_no_delete)
{
	char dir[] = "/tmp/test-provider.XXXXXX";
	_cleanup_(config_freep) struct config *c = NULL;
	_cleanup_free_ char *marker = NULL;
	struct seq_run run;
	FILE *f;

	ASSERT_NOT_NULL(mkdtemp(dir));
	c = sequence_config(dir);
	marker = xasprintf("%s/restore-failed", dir);
	f = fopen(marker, "w");
	ASSERT_NOT_NULL(f);
	fputs("storage unreachable\n", f);
	fclose(f);
	seq_run_start(&run, c);
	ASSERT_STR_EQ(drive(&run, "failed"), "failed");
	ASSERT_STR_CONTAINS(delete_seq_error(run.s), "the state restore at boot failed");
	ASSERT_INT_EQ(run.state, IDLE_STATE_ACTING);
	/* the start-up identity lookup may still run: delete_seq_free() stops it */
	run.s = delete_seq_free(run.s);
	remove_dir(dir);
}
