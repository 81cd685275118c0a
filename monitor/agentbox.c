/* agentbox: the client of agentbox-monitor.
 *   agentbox status [--json]
 *   agentbox keepalive DURATION [--reason TEXT] | --clear [--all]
 *   agentbox config
 *   agentbox backup [--force] [--final]
 *   agentbox restore [--generation ID] [--list] [--take-over]
 *   agentbox attach [--session NAME]
 *   agentbox render-user-data [-o FILE] ENV_FILE
 * It reads what the daemon publishes under runtime_dir, so it needs no
 * privileges beyond reading /run/agentbox. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "monitor-cli-attach.h"
#include "monitor-cli-render.h"
#include "monitor-cli-notify.h"
#include "monitor-cli-state.h"
#include "monitor-cli-watch.h"
#include "monitor-cli-identity.h"
#include "monitor-delete-job.h"
#include "monitor-keepalive.h"
#include "time-util.h"

#define EXIT_NOT_RUNNING 3

struct command {
	const char *name;
	int (*run)(struct config *c, int argc, char **argv);
	int needs_finish; /* needs values derived from the system (the user's home) */
	const char *usage;
	int no_config; /* runs on the user's machine: no agentbox.json read */
};

static int cmd_status(struct config *c, int argc, char **argv);
static int cmd_keepalive(struct config *c, int argc, char **argv);
static int cmd_config(struct config *c, int argc, char **argv);

static const struct command commands[] = {
	{"status", cmd_status, 0, "status [--json]          the monitor's state and signals"},
	{"keepalive", cmd_keepalive, 0,
	 "keepalive DURATION [--reason TEXT] | --clear [--all]\n"
	 "                                   hold the box (e.g. 2h), or release it"},
	{"config", cmd_config, 1, "config                   print the effective configuration"},
	{"backup", cli_backup, 1,
	 "backup [--force] [--final] [--json]\n"
	 "                                   back up the state now (skipped when unchanged)"},
	{"restore", cli_restore, 1,
	 "restore [--generation ID] [--list] [--take-over] [--verify]\n"
	 "                                   restore the state (latest by default), or list generations"},
	{"generations", cli_generations, 1,
	 "generations              the generations in the bucket: files, data kept, stored"},
	{"identity", cmd_identity, 0,
	 "identity [--json]        this instance's provider and id (metadata service)"},
	{"attach", cli_attach, 0,
	 "attach [--session NAME]  a terminal in the workspace container's tmux (docker group)"},
	{"render-user-data", cli_render_user_data, 0,
	 "render-user-data [-o FILE] ENV_FILE\n"
	 "                                   cloud-init user-data for a new workspace VM",
	 1},
	/* run by agentbox-monitor; not listed */
	{"internal-delete-job", cli_delete_job, 1, NULL},
	{"internal-watch-interruption", cli_watch_interruption, 1, NULL},
	{"internal-notify", cli_notify, 1, NULL},
};

static void help(void)
{
	printf("Usage: agentbox [--config FILE] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (commands[i].usage)
			printf("  %s\n", commands[i].usage);
	printf("\nExit status: 0 ok, 1 failure, 2 bad usage or config, 3 monitor not running.\n");
}

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double json_num(const cJSON *o, const char *key, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* "3m ago" for a unix time, or "never". */
static const char *ago(const cJSON *o, const char *key, time_t now, char *buf, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	char d[FORMAT_DURATION_MAX];

	if (!cJSON_IsNumber(v))
		return "never";
	format_duration(d, sizeof(d),
			now > (time_t)v->valuedouble ? (usec_t)(now - (time_t)v->valuedouble) * USEC_PER_SEC : 0);
	snprintf(buf, size, "%s ago", d);
	return buf;
}

/* What the last backup keeps: "kept:  1234 files, 1.2 GiB of data, stored as 300.1 MiB". */
static void print_backup_size(const cJSON *b)
{
	char data[32], stored[32];

	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(b, "files")))
		return;
	printf("kept:           %.0f files, %s of data, stored as %s\n", json_num(b, "files", 0),
	       format_bytes(data, sizeof(data), (uint64_t)json_num(b, "bytes", 0)),
	       format_bytes(stored, sizeof(stored), (uint64_t)json_num(b, "stored_bytes", 0)));
}

static void print_status(const cJSON *root)
{
	time_t now = time(NULL);
	const cJSON *signals = cJSON_GetObjectItemCaseSensitive(root, "signals"), *s;
	const cJSON *hold = cJSON_GetObjectItemCaseSensitive(root, "keepalive");
	char idle[FORMAT_DURATION_MAX], timeout[FORMAT_DURATION_MAX], buf[64];
	const char *by = json_str(root, "kept_alive_by");

	format_duration(idle, sizeof(idle), (usec_t)json_num(root, "idle_seconds", 0) * USEC_PER_SEC);
	format_duration(timeout, sizeof(timeout),
			(usec_t)json_num(root, "timeout_seconds", 0) * USEC_PER_SEC);
	printf("state:          %s\n", strempty(json_str(root, "state")));
	if (by)
		printf("kept alive by:  %s (%s)\n", by, strempty(json_str(root, "kept_alive_detail")));
	printf("idle:           %s of %s\n", idle, timeout);
	printf("action:         %s", strempty(json_str(root, "action")));
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "action_due")) &&
	    !streq(strempty(json_str(root, "state")), "idle") &&
	    !streq(strempty(json_str(root, "state")), "acting")) {
		double due = json_num(root, "action_due", 0);
		char d[FORMAT_DURATION_MAX];
		format_duration(d, sizeof(d), due > now ? (usec_t)(due - now) * USEC_PER_SEC : 0);
		printf(" (due in %s if nothing happens)", d);
	}
	printf("\n");
	if (json_str(root, "action_error"))
		printf("action error:   %s\n", json_str(root, "action_error"));
	print_delete_status(root);
	{
		const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "interruption");
		if (cJSON_IsObject(in))
			printf("interruption:   %s; final backup %s%s%s\n", strempty(json_str(in, "reason")),
			       strempty(json_str(in, "final_backup")),
			       json_str(in, "generation") && *json_str(in, "generation")
				   ? ", generation "
				   : "",
			       strempty(json_str(in, "generation")));
	}
	if (hold && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(hold, "until"))) {
		char when[FORMAT_UTC_MAX];
		format_utc(when, sizeof(when), (time_t)json_num(hold, "until", 0));
		printf("keepalive:      %s until %s %s\n", strempty(json_str(hold, "holder")), when,
		       strempty(json_str(hold, "reason")));
	}
	{
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "backup");
		if (cJSON_IsObject(b)) {
			printf("last backup:    ");
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "running")))
				printf("running now; ");
			if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(b, "last_at")))
				printf("none yet\n");
			else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "last_ok"))) {
				printf("%s, generation %s%s\n", ago(b, "last_at", now, buf, sizeof(buf)),
				       strempty(json_str(b, "generation")),
				       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "skipped"))
					       ? " (unchanged)"
					       : "");
				print_backup_size(b);
			} else
				printf("FAILED %s: %s\n", ago(b, "last_at", now, buf, sizeof(buf)),
				       strempty(json_str(b, "error")));
		}
	}
	printf("\n%-11s %-14s %s\n", "SIGNAL", "LAST ACTIVE", "DETAIL");
	cJSON_ArrayForEach(s, signals)
	{
		const cJSON *deg = cJSON_GetObjectItemCaseSensitive(s, "degraded");
		if (cJSON_IsTrue(deg))
			printf("%-11s %-14s DEGRADED (counts as active): %s\n", s->string, "-",
			       strempty(json_str(s, "reason")));
		else
			printf("%-11s %-14s %s\n", s->string, ago(s, "last_active", now, buf, sizeof(buf)),
			       strempty(json_str(s, "detail")));
	}
}

/* The daemon publishes only what changes when something happens
 * (monitor-status.c): the ages a reader wants are computed here, and
 * "updated" is the file's mtime, which the daemon refreshes while the
 * content stands still. */
static void add_derived(cJSON *root, time_t mtime, time_t now)
{
	const cJSON *since = cJSON_GetObjectItemCaseSensitive(root, "idle_since");
	double idle = 0;

	if (cJSON_IsNumber(since) && now > (time_t)since->valuedouble)
		idle = (double)(now - (time_t)since->valuedouble);
	if (!cJSON_GetObjectItemCaseSensitive(root, "idle_seconds"))
		cJSON_AddNumberToObject(root, "idle_seconds", idle);
	if (!cJSON_GetObjectItemCaseSensitive(root, "updated"))
		cJSON_AddNumberToObject(root, "updated", (double)mtime);
}

/* Warns when the file was not refreshed: the daemon is gone or hung. */
static void check_fresh(const cJSON *root)
{
	double updated = json_num(root, "updated", 0), interval = json_num(root, "interval_seconds", 5);
	double pid = json_num(root, "pid", 0);
	time_t now = time(NULL);

	if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		fprintf(stderr, "warning: agentbox-monitor (pid %.0f) is not running; this status is "
				"old. See: systemctl status agentbox-monitor\n",
			pid);
	else if (now - updated > MAX(3 * interval, 30))
		fprintf(stderr, "warning: status last updated %.0fs ago; is agentbox-monitor hung? "
				"See: journalctl -u agentbox-monitor\n",
			now - updated);
}

static int cmd_status(struct config *c, int argc, char **argv)
{
	_cleanup_free_ char *path = xasprintf("%s/status.json", c->runtime_dir), *text = NULL;
	struct stat st;
	int json = 0, r;
	cJSON *root;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--json"))
			json = 1;
		else {
			fprintf(stderr, "agentbox status: unknown option '%s'\n", argv[i]);
			return EXIT_CONFIG;
		}
	}
	r = read_file(path, 1 << 20, &text, NULL);
	if (r == -ENOENT) {
		fprintf(stderr, "agentbox-monitor is not running (no %s). "
				"See: systemctl status agentbox-monitor\n",
			path);
		return EXIT_NOT_RUNNING;
	}
	if (r < 0) {
		fprintf(stderr, "Cannot read %s: %s\n", path, strerror(-r));
		return 1;
	}
	root = cJSON_Parse(text);
	if (!root) {
		fprintf(stderr, "%s is not valid JSON\n", path);
		return 1;
	}
	add_derived(root, stat(path, &st) == 0 ? st.st_mtime : 0, time(NULL));
	check_fresh(root);
	if (json) {
		_cleanup_free_ char *out = cJSON_Print(root);
		puts(out);
	} else
		print_status(root);
	cJSON_Delete(root);
	return 0;
}

static const char *holder_name(void)
{
	struct passwd *pw = getpwuid(getuid());
	return pw ? pw->pw_name : "user";
}

static int cmd_keepalive(struct config *c, int argc, char **argv)
{
	static const struct option options[] = {
		{"clear", no_argument, NULL, 'c'},
		{"all", no_argument, NULL, 'a'},
		{"reason", required_argument, NULL, 'r'},
		{"name", required_argument, NULL, 'n'},
		{},
	};
	const char *reason = NULL, *name = holder_name();
	int clear = 0, all = 0, o, r;
	usec_t duration;
	char buf[FORMAT_DURATION_MAX];

	optind = 0; /* 0: reinitialize GNU getopt for the command's own options */
	while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0) {
		switch (o) {
		case 'c':
			clear = 1;
			break;
		case 'a':
			all = 1;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		default:
			return EXIT_CONFIG;
		}
	}
	if (clear) {
		if (all) {
			r = keepalive_clear_all(c);
			if (r < 0)
				goto fail;
			printf("Removed %d keepalive(s).\n", r);
			return 0;
		}
		r = keepalive_clear(c, name);
		if (r == -ENOENT) {
			printf("No keepalive of %s to clear.\n", name);
			return 0;
		}
		if (r < 0)
			goto fail;
		printf("Keepalive of %s cleared.\n", name);
		return 0;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "Usage: agentbox keepalive DURATION [--reason TEXT] | --clear [--all]\n");
		return EXIT_CONFIG;
	}
	if (parse_duration(argv[optind], &duration) < 0 || duration == 0 ||
	    duration > 30 * USEC_PER_DAY) {
		fprintf(stderr, "agentbox keepalive: '%s' is not a duration from 1s to 30d "
				"(such as 90m or 2h)\n",
			argv[optind]);
		return EXIT_CONFIG;
	}
	r = keepalive_set(c, name, duration, reason);
	if (r < 0)
		goto fail;
	printf("Workspace held for %s by %s.\n", format_duration(buf, sizeof(buf), duration), name);
	return 0;
fail:
	if (r == -ENOENT)
		fprintf(stderr, "Cannot hold the workspace: %s/keepalive.d does not exist; is "
				"agentbox-monitor running?\n",
			c->runtime_dir);
	else
		fprintf(stderr, "Cannot change the keepalive in %s/keepalive.d: %s\n", c->runtime_dir,
			strerror(-r));
	return 1;
}

static int cmd_config(struct config *c, int argc, char **argv)
{
	_cleanup_free_ char *json = config_to_json(c);

	(void)argc;
	(void)argv;
	printf("%s\n", json);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	_cleanup_(config_freep) struct config *c = config_new();
	_cleanup_free_ char *error = NULL;
	const char *config_path = NULL;
	const struct command *cmd = NULL;
	int o;

	log_open("agentbox");
	/* "+" stops at the command, whose options are its own. */
	while ((o = getopt_long(argc, argv, "+c:h", options, NULL)) >= 0) {
		switch (o) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			help();
			return 0;
		case 'V':
			printf("agentbox %s\n", AGENTBOX_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'agentbox --help'.\n");
			return EXIT_CONFIG;
		}
	}
	if (optind >= argc) {
		help();
		return EXIT_CONFIG;
	}
	if (streq(argv[optind], "help")) {
		help();
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (streq(commands[i].name, argv[optind]))
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "agentbox: unknown command '%s'; try 'agentbox --help'.\n",
			argv[optind]);
		return EXIT_CONFIG;
	}
	if (cmd->no_config)
		return cmd->run(c, argc - optind, argv + optind);
	if (config_load_file(c, config_path ? config_path : CONFIG_DEFAULT_PATH, config_path != NULL,
			     &error) < 0 ||
	    (cmd->needs_finish && config_finish(c, &error) < 0)) {
		fprintf(stderr, "%s\n", error);
		return EXIT_CONFIG;
	}
	return cmd->run(c, argc - optind, argv + optind);
}
