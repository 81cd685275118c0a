/* Configuration; see config.h.
 *
 * The file is one JSON object. Its members are keys of the table below,
 * written either nested ({"idle": {"timeout": "30m"}}) or dotted
 * ({"idle.timeout": "30m"}). Defaults are JSON text in the same table and
 * go through the same parsers as the file, so a default can never be a
 * value the parser would refuse. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "provider.h"

enum conf_type {
	CONF_STRING,   /* char *; non-empty */
	CONF_NAME,     /* char *; [A-Za-z0-9_.-], for user and workspace names */
	CONF_PATH,     /* char *; absolute */
	CONF_DURATION, /* usec_t; "30m" */
	CONF_DURATION_OFF, /* usec_t; "30m" or "off" (0) */
	CONF_BOOL,     /* int */
	CONF_ENUM,     /* int, index into choices */
	CONF_PATHS,    /* char **; absolute paths, NULL-terminated */
	CONF_STRV,     /* char **; non-empty strings */
	CONF_PORTS,    /* struct config_ports */
	CONF_NUMBER,   /* double within [min, max] */
	CONF_PORT,     /* int; a TCP port, 1 to 65535 */
};

struct conf_key {
	const char *key;
	enum conf_type type;
	size_t offset;
	const char *def; /* JSON text; NULL: unset (derived in config_finish) */
	const char *const *choices;
	double min, max; /* CONF_NUMBER, and durations in seconds when max > 0 */
};

static const char *const idle_actions[] = {"none", "poweroff", "delete", NULL};
static const char *const restore_failures[] = {"fail", "empty", NULL};
static const char *const ec2_terminate_modes[] = {"shutdown", "api", NULL};
static const char *const notify_formats[] = {"json", "text", "slack", NULL};

#define OFF(field) offsetof(struct config, field)

static const struct conf_key conf_table[] = {
	{"workspace.name", CONF_NAME, OFF(workspace_name), "\"default\""},
	{"workspace.user", CONF_NAME, OFF(workspace_user), "\"agent\""},
	{"workspace.home", CONF_PATH, OFF(workspace_home), NULL},
	{"workspace.projects_dir", CONF_PATH, OFF(workspace_projects_dir), NULL},
	{"workspace.image", CONF_STRING, OFF(workspace_image), NULL},
	{"workspace.registry_auth_file", CONF_STRING, OFF(workspace_registry_auth_file), NULL},
	{"workspace.command", CONF_STRV, OFF(workspace_command), "[]"},
	{"workspace.ports", CONF_STRV, OFF(workspace_ports), "[\"3000-3009\", \"8000-8009\"]"},
	{"workspace.ports_address", CONF_STRING, OFF(workspace_ports_address), "\"127.0.0.1\""},
	{"workspace.docker_socket", CONF_BOOL, OFF(workspace_docker_socket), "false"},
	{"workspace.docker_host", CONF_PATH, OFF(workspace_docker_host),
	 "\"/var/run/docker.sock\""},
	{"workspace.android_emulator", CONF_BOOL, OFF(workspace_android_emulator), "false"},
	{"workspace.pull_retries", CONF_NUMBER, OFF(workspace_pull_retries), "4", NULL, 0, 10},
	{"workspace.cpus", CONF_NUMBER, OFF(workspace_cpus), "0", NULL, 0, 1024},
	{"workspace.memory", CONF_STRING, OFF(workspace_memory), "\"90%\""},
	{"workspace.pids_limit", CONF_NUMBER, OFF(workspace_pids_limit), "8192", NULL, 0, 4194304},
	{"workspace.cap_add", CONF_STRV, OFF(workspace_cap_add), "[]"},
	{"workspace.block_metadata", CONF_BOOL, OFF(workspace_block_metadata), "true"},
	{"runtime_dir", CONF_PATH, OFF(runtime_dir), "\"/run/agentbox\""},
	{"state_dir", CONF_PATH, OFF(state_dir), "\"/var/lib/agentbox\""},
	{"idle.timeout", CONF_DURATION, OFF(idle_timeout), "\"30m\"", NULL, 1, 366 * 86400},
	{"idle.boot_grace", CONF_DURATION, OFF(idle_boot_grace), "\"10m\"", NULL, 0, 366 * 86400},
	{"idle.max_lifetime", CONF_DURATION_OFF, OFF(idle_max_lifetime), "\"off\"", NULL, 60,
	 3660 * 86400},
	{"idle.warn_before", CONF_DURATION, OFF(idle_warn_before), "\"5m\"", NULL, 0, 366 * 86400},
	{"idle.interval", CONF_DURATION, OFF(idle_interval), "\"5s\"", NULL, 0.01, 600},
	{"idle.action", CONF_ENUM, OFF(idle_action), "\"none\"", idle_actions},
	{"idle.watch_paths", CONF_PATHS, OFF(idle_watch_paths), NULL},
	{"idle.exclude_paths", CONF_STRV, OFF(idle_exclude_paths), "[]"},
	{"idle.agent_names", CONF_STRV, OFF(idle_agent_names),
	 "[\"claude\", \"codex\", \"aider\", \"opencode\", \"gemini\"]"},
	{"idle.cpu_threshold", CONF_NUMBER, OFF(idle_cpu_threshold), "5", NULL, 0.1, 100000},
	{"idle.ports", CONF_PORTS, OFF(idle_ports), "[22, 5900, 6080]"},
	{"idle.wall", CONF_BOOL, OFF(idle_wall), "true"},
	{"state.paths", CONF_PATHS, OFF(state_paths), NULL},
	{"state.exclude", CONF_STRV, OFF(state_exclude), "[]"},
	{"state.exclude_defaults", CONF_BOOL, OFF(state_exclude_defaults), "true"},
	{"state.keep", CONF_NUMBER, OFF(state_keep), "5", NULL, 1, 1000},
	{"state.backup_interval", CONF_DURATION_OFF, OFF(state_backup_interval), "\"15m\"", NULL, 1,
	 366 * 86400},
	{"state.lease_ttl", CONF_DURATION, OFF(state_lease_ttl), "\"1h\"", NULL, 1, 7 * 86400},
	{"state.compression_level", CONF_NUMBER, OFF(state_compression_level), "3", NULL, 1, 19},
	{"state.on_restore_failure", CONF_ENUM, OFF(state_on_restore_failure), "\"fail\"",
	 restore_failures},
	{"state.storage.endpoint", CONF_STRING, OFF(state_storage_endpoint), NULL},
	{"state.storage.region", CONF_STRING, OFF(state_storage_region), "\"us-east-1\""},
	{"state.storage.bucket", CONF_STRING, OFF(state_storage_bucket), NULL},
	{"state.storage.prefix", CONF_STRING, OFF(state_storage_prefix), NULL},
	{"state.storage.path_style", CONF_BOOL, OFF(state_storage_path_style), "false"},
	{"state.storage.credentials_file", CONF_STRING, OFF(state_storage_credentials_file), NULL},
	{"state.encryption.key_file", CONF_STRING, OFF(state_encryption_key_file), NULL},
	{"idle.delete_without_backup", CONF_BOOL, OFF(idle_delete_without_backup), "false"},
	{"idle.delete_without_storage", CONF_BOOL, OFF(idle_delete_without_storage), "false"},
	{"notify.webhook_url_file", CONF_STRING, OFF(notify_webhook_url_file), NULL},
	{"notify.format", CONF_ENUM, OFF(notify_format), "\"json\"", notify_formats},
	{"provider.name", CONF_STRING, OFF(provider_name), "\"auto\""},
	{"provider.api_url", CONF_STRING, OFF(provider_api_url), NULL},
	{"provider.token_file", CONF_STRING, OFF(provider_token_file), NULL},
	{"provider.metadata_timeout", CONF_DURATION, OFF(provider_metadata_timeout), "\"2s\"", NULL,
	 0.05, 60},
	{"provider.metadata_retries", CONF_NUMBER, OFF(provider_metadata_retries), "2", NULL, 0, 10},
	{"provider.api_timeout", CONF_DURATION, OFF(provider_api_timeout), "\"30s\"", NULL, 1, 600},
	{"provider.delete_retries", CONF_NUMBER, OFF(provider_delete_retries), "4", NULL, 0, 10},
	{"provider.hetzner.api_url", CONF_STRING, OFF(provider_hetzner_api_url),
	 "\"https://api.hetzner.cloud/v1\""},
	{"provider.hetzner.token_file", CONF_STRING, OFF(provider_hetzner_token_file), NULL},
	{"provider.ec2.terminate", CONF_ENUM, OFF(provider_ec2_terminate), "\"shutdown\"",
	 ec2_terminate_modes},
	{"provider.ec2.api_url", CONF_STRING, OFF(provider_ec2_api_url), NULL},
	{"display.x_display", CONF_STRING, OFF(display_x_display), "\":1\""},
	{"display.geometry", CONF_STRING, OFF(display_geometry), "\"1920x1080x24\""},
	{"display.port", CONF_PORT, OFF(display_port), "5900"},
	{"display.web_port", CONF_PORT, OFF(display_web_port), "6080"},
	{"display.listen", CONF_STRING, OFF(display_listen), "\"127.0.0.1\""},
	{"display.novnc_dir", CONF_PATH, OFF(display_novnc_dir), "\"/usr/share/novnc\""},
	{"display.password_file", CONF_STRING, OFF(display_password_file), NULL},
	{"display.web_password_file", CONF_STRING, OFF(display_web_password_file), NULL},
	{"display.tls_cert_file", CONF_STRING, OFF(display_tls_cert_file), NULL},
	{"display.tls_key_file", CONF_STRING, OFF(display_tls_key_file), NULL},
	{"display.max_fps", CONF_NUMBER, OFF(display_max_fps), "60", NULL, 1, 240},
	{"display.allowed_hosts", CONF_STRV, OFF(display_allowed_hosts), "[]"},
	{"display.terminal", CONF_BOOL, OFF(display_terminal), "true"},
	{"display.terminal_dir", CONF_PATH, OFF(display_terminal_dir),
	 "\"/usr/share/agentbox/terminal\""},
};

#define FIELD(c, k, type) ((type *)((char *)(c) + (k)->offset))

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static void conf_free_value(struct config *c, const struct conf_key *k)
{
	switch (k->type) {
	case CONF_STRING:
	case CONF_NAME:
	case CONF_PATH:
		free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = NULL;
		break;
	case CONF_PATHS:
	case CONF_STRV:
		strv_free(*FIELD(c, k, char **));
		*FIELD(c, k, char **) = NULL;
		break;
	default:
		break;
	}
}

static int set_error(char **ret_error, const char *origin, const char *key, const char *fmt, ...)
	_printf_(4, 5);
static int set_error(char **ret_error, const char *origin, const char *key, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	free(*ret_error);
	*ret_error = xasprintf("%s: %s%s%s", origin, key ? key : "", key ? ": " : "", strempty(msg));
	return -EINVAL;
}

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsArray(v))
		return "a list";
	if (cJSON_IsObject(v))
		return "an object";
	return "an unknown value";
}

static int valid_name(const char *s)
{
	if (!*s || strlen(s) > 64 || *s == '-' || *s == '.')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return 0;
	return 1;
}

static int parse_string_list(const cJSON *v, int paths, char ***ret, const char **ret_why)
{
	int n = cJSON_GetArraySize(v), i = 0;
	char **list;
	const cJSON *e;

	if (!cJSON_IsArray(v)) {
		*ret_why = "expected a list of strings";
		return -EINVAL;
	}
	list = xcalloc((size_t)n + 1, sizeof(char *));
	cJSON_ArrayForEach(e, v)
	{
		if (!cJSON_IsString(e) || !e->valuestring[0]) {
			*ret_why = "expected a list of non-empty strings";
			strv_free(list);
			return -EINVAL;
		}
		if (paths && e->valuestring[0] != '/') {
			*ret_why = "expected absolute paths";
			strv_free(list);
			return -EINVAL;
		}
		list[i++] = xstrdup(e->valuestring);
	}
	*ret = list;
	return 0;
}

/* Parses one value into c; on error returns -EINVAL with *ret_error set. */
static int conf_parse_value(struct config *c, const struct conf_key *k, const cJSON *v,
			    const char *origin, char **ret_error)
{
	_cleanup_free_ char *shown = cJSON_PrintUnformatted(v);
	const char *why = NULL;
	char **list = NULL;
	usec_t usec;

	switch (k->type) {
	case CONF_STRING:
	case CONF_NAME:
	case CONF_PATH:
		if (!cJSON_IsString(v))
			return set_error(ret_error, origin, k->key, "expected a string, got %s",
					 json_type_name(v));
		if (!v->valuestring[0])
			return set_error(ret_error, origin, k->key, "must not be empty");
		if (k->type == CONF_PATH && v->valuestring[0] != '/')
			return set_error(ret_error, origin, k->key,
					 "expected an absolute path, got %s", shown);
		if (k->type == CONF_NAME && !valid_name(v->valuestring))
			return set_error(ret_error, origin, k->key,
					 "expected a name of letters, digits, '_', '.', '-' "
					 "(at most 64), got %s",
					 shown);
		conf_free_value(c, k);
		*FIELD(c, k, char *) = xstrdup(v->valuestring);
		return 0;

	case CONF_DURATION:
	case CONF_DURATION_OFF:
		if (!cJSON_IsString(v))
			return set_error(ret_error, origin, k->key,
					 "expected a duration string such as \"90s\", \"30m\" "
					 "or \"2h\", got %s",
					 json_type_name(v));
		if (k->type == CONF_DURATION_OFF && streq(v->valuestring, "off")) {
			*FIELD(c, k, usec_t) = 0;
			return 0;
		}
		if (parse_duration(v->valuestring, &usec) < 0)
			return set_error(ret_error, origin, k->key,
					 "expected a duration such as \"90s\", \"30m\" or \"2h\"%s, "
					 "got %s",
					 k->type == CONF_DURATION_OFF ? " or \"off\"" : "", shown);
		if (k->max > 0 && ((double)usec < k->min * 1e6 || (double)usec > k->max * 1e6)) {
			char lo[FORMAT_DURATION_MAX], hi[FORMAT_DURATION_MAX];
			return set_error(ret_error, origin, k->key, "%s is out of range (%s to %s)",
					 shown,
					 format_duration(lo, sizeof(lo), (usec_t)(k->min * 1e6)),
					 format_duration(hi, sizeof(hi), (usec_t)(k->max * 1e6)));
		}
		*FIELD(c, k, usec_t) = usec;
		return 0;

	case CONF_BOOL:
		if (!cJSON_IsBool(v))
			return set_error(ret_error, origin, k->key,
					 "expected true or false, got %s", shown);
		*FIELD(c, k, int) = cJSON_IsTrue(v);
		return 0;

	case CONF_ENUM:
		if (cJSON_IsString(v))
			for (int i = 0; k->choices[i]; i++)
				if (streq(k->choices[i], v->valuestring)) {
					*FIELD(c, k, int) = i;
					return 0;
				}
		{
			char choices[256] = "";
			for (int i = 0; k->choices[i]; i++)
				snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices),
					 "%s\"%s\"", i ? ", " : "", k->choices[i]);
			return set_error(ret_error, origin, k->key, "expected one of %s, got %s",
					 choices, shown);
		}

	case CONF_PATHS:
	case CONF_STRV:
		if (parse_string_list(v, k->type == CONF_PATHS, &list, &why) < 0)
			return set_error(ret_error, origin, k->key, "%s, got %s", why, shown);
		conf_free_value(c, k);
		*FIELD(c, k, char **) = list;
		return 0;

	case CONF_PORTS: {
		struct config_ports ports = {0};
		const cJSON *e;

		if (!cJSON_IsArray(v))
			return set_error(ret_error, origin, k->key,
					 "expected a list of port numbers, got %s", json_type_name(v));
		cJSON_ArrayForEach(e, v)
		{
			if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) ||
			    e->valuedouble < 1 || e->valuedouble > 65535)
				return set_error(ret_error, origin, k->key,
						 "expected port numbers from 1 to 65535, got %s", shown);
			if (ports.n == CONFIG_MAX_PORTS)
				return set_error(ret_error, origin, k->key,
						 "at most %d ports", CONFIG_MAX_PORTS);
			ports.port[ports.n++] = (uint16_t)e->valuedouble;
		}
		*FIELD(c, k, struct config_ports) = ports;
		return 0;
	}

	case CONF_NUMBER:
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
			return set_error(ret_error, origin, k->key, "expected a number, got %s",
					 shown);
		if (v->valuedouble < k->min || v->valuedouble > k->max)
			return set_error(ret_error, origin, k->key,
					 "%s is out of range (%g to %g)", shown, k->min, k->max);
		*FIELD(c, k, double) = v->valuedouble;
		return 0;

	case CONF_PORT:
		if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
		    v->valuedouble < 1 || v->valuedouble > 65535)
			return set_error(ret_error, origin, k->key,
					 "expected a port number from 1 to 65535, got %s", shown);
		*FIELD(c, k, int) = (int)v->valuedouble;
		return 0;
	}
	return set_error(ret_error, origin, k->key, "internal error: unknown type");
}

static const struct conf_key *conf_find(const char *key)
{
	for (size_t i = 0; i < ELEMENTSOF(conf_table); i++)
		if (streq(conf_table[i].key, key))
			return &conf_table[i];
	return NULL;
}

/* Is prefix (e.g. "idle") the section of some key? */
static int conf_is_section(const char *prefix)
{
	size_t l = strlen(prefix);

	for (size_t i = 0; i < ELEMENTSOF(conf_table); i++)
		if (strncmp(conf_table[i].key, prefix, l) == 0 && conf_table[i].key[l] == '.')
			return 1;
	return 0;
}

/* What one document set so far, to refuse a key given twice in any
 * spelling ({"idle.timeout": …} beside {"idle": {"timeout": …}}): per
 * table row the spelling that set it, and the sections entered. A
 * document is refused at its first unknown or repeated key, so a walk is
 * linear in its size. */
struct conf_seen {
	char *leaf[ELEMENTSOF(conf_table)];
	char *section_key[ELEMENTSOF(conf_table) * 4];
	char *section_spelling[ELEMENTSOF(conf_table) * 4];
	size_t n_sections;
};

static void conf_seen_done(struct conf_seen *s)
{
	for (size_t i = 0; i < ELEMENTSOF(s->leaf); i++)
		free(s->leaf[i]);
	for (size_t i = 0; i < s->n_sections; i++) {
		free(s->section_key[i]);
		free(s->section_spelling[i]);
	}
}

/* "key: given twice", and both spellings when they differ. */
static int conf_twice(char **ret_error, const char *origin, const char *key, const char *first,
		      const char *again)
{
	if (streq(first, again))
		return set_error(ret_error, origin, key, "given twice");
	return set_error(ret_error, origin, key, "given twice (as %s and as %s); give it once",
			 first, again);
}

/* spelling: how the members leading to obj were written, e.g. "idle" >. */
static int conf_walk(struct config *c, const cJSON *obj, const char *prefix, const char *spelling,
		     struct conf_seen *seen, const char *origin, char **ret_error)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, obj)
	{
		_cleanup_free_ char *key =
		    prefix ? xasprintf("%s.%s", prefix, m->string) : xstrdup(m->string);
		_cleanup_free_ char *spelled =
		    xasprintf("%s%s\"%s\"", strempty(spelling), spelling ? " > " : "", m->string);
		const struct conf_key *k = conf_find(key);
		int r;

		if (k) {
			size_t i = (size_t)(k - conf_table);
			if (seen->leaf[i])
				return conf_twice(ret_error, origin, key, seen->leaf[i], spelled);
			r = conf_parse_value(c, k, m, origin, ret_error);
			if (r < 0)
				return r;
			seen->leaf[i] = TAKE_PTR(spelled);
			continue;
		}
		if (conf_is_section(key)) {
			size_t i;
			if (!cJSON_IsObject(m))
				return set_error(ret_error, origin, key,
						 "expected an object (a section), got %s",
						 json_type_name(m));
			for (i = 0; i < seen->n_sections; i++)
				if (streq(seen->section_key[i], key))
					return conf_twice(ret_error, origin, key,
							  seen->section_spelling[i], spelled);
			if (i < ELEMENTSOF(seen->section_key)) {
				seen->section_key[i] = xstrdup(key);
				seen->section_spelling[i] = xstrdup(spelled);
				seen->n_sections++;
			}
			r = conf_walk(c, m, key, spelled, seen, origin, ret_error);
			if (r < 0)
				return r;
			continue;
		}
		return set_error(ret_error, origin, key,
				 "unknown key (see docs/configuration.md for the keys)");
	}
	return 0;
}

int config_load_string(struct config *c, const char *json, const char *origin, char **ret_error)
{
	struct conf_seen seen = {0};
	const char *end = NULL;
	cJSON *root;
	int r;

	/* the same cap as a file's, whatever the source */
	if (strnlen(json, CONFIG_MAX_SIZE + 1) > CONFIG_MAX_SIZE)
		return set_error(ret_error, origin, NULL, "larger than 1 MiB");
	root = cJSON_ParseWithOpts(json, &end, 1);
	if (!root) {
		int line = 1;
		const char *at = end ? end : json;
		for (const char *p = json; p < at && *p; p++)
			line += *p == '\n';
		return set_error(ret_error, origin, NULL, "line %d: not valid JSON", line);
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return set_error(ret_error, origin, NULL, "expected a JSON object at the top");
	}
	r = conf_walk(c, root, NULL, NULL, &seen, origin, ret_error);
	conf_seen_done(&seen);
	cJSON_Delete(root);
	return r;
}

int config_load_file(struct config *c, const char *path, int explicit, char **ret_error)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = read_file(path, CONFIG_MAX_SIZE, &text, NULL);
	if (r == -ENOENT && !explicit)
		return 0;
	if (r == -EFBIG)
		return set_error(ret_error, path, NULL, "larger than 1 MiB");
	if (r < 0) {
		errno = -r;
		return set_error(ret_error, path, NULL, "cannot read: %m"), r;
	}
	free(c->path);
	c->path = xstrdup(path);
	return config_load_string(c, text, path, ret_error);
}

struct config *config_new(void)
{
	struct config *c = xcalloc(1, sizeof(*c));

	for (size_t i = 0; i < ELEMENTSOF(conf_table); i++) {
		_cleanup_free_ char *error = NULL;
		cJSON *v;

		if (!conf_table[i].def)
			continue;
		v = cJSON_Parse(conf_table[i].def);
		if (!v || conf_parse_value(c, &conf_table[i], v, "default", &error) < 0) {
			/* A bad default is a bug caught by the first test run. */
			fprintf(stderr, "<2>config: bad default for %s: %s\n", conf_table[i].key,
				strempty(error));
			abort();
		}
		cJSON_Delete(v);
	}
	return c;
}

struct config *config_free(struct config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(conf_table); i++)
		conf_free_value(c, &conf_table[i]);
	free(c->path);
	free(c);
	return NULL;
}

/* Parses workspace.ports ("8080", "3000-3009") into ranges; -EINVAL with
 * *ret_why (static text) for a bad entry. */
static int parse_port_ranges(char **list, struct config_port_ranges *ret, const char **ret_why)
{
	struct config_port_ranges r = {0};

	for (char **p = list; p && *p; p++) {
		unsigned lo, hi;
		int n = 0;

		if (sscanf(*p, "%5u-%5u%n", &lo, &hi, &n) == 2 && (size_t)n == strlen(*p))
			;
		else if (sscanf(*p, "%5u%n", &lo, &n) == 1 && (size_t)n == strlen(*p))
			hi = lo;
		else {
			*ret_why = "expected \"PORT\" or \"FIRST-LAST\"";
			return -EINVAL;
		}
		if (lo < 1 || hi > 65535 || lo > hi || hi - lo >= 1000) {
			*ret_why = "ports go from 1 to 65535, FIRST <= LAST, at most 1000 a range";
			return -EINVAL;
		}
		if (r.n == CONFIG_MAX_PORTS) {
			*ret_why = "at most 32 entries";
			return -EINVAL;
		}
		r.lo[r.n] = (uint16_t)lo;
		r.hi[r.n++] = (uint16_t)hi;
	}
	*ret = r;
	return 0;
}

/* Path order in which a directory's descendants follow it at once: '/'
 * sorts before every other byte. */
static int path_cmp(const void *a, const void *b)
{
	const unsigned char *x = *(const unsigned char *const *)a,
			    *y = *(const unsigned char *const *)b;

	for (; *x && *x == *y; x++, y++)
		;
	return (*x == '/' ? 1 : *x ? *x + 1 : 0) - (*y == '/' ? 1 : *y ? *y + 1 : 0);
}

/* Is b the path a, or below it? Both normalized. */
static int path_covers(const char *a, const char *b)
{
	size_t l = strlen(a);

	if (streq(a, "/"))
		return 1;
	return strncmp(a, b, l) == 0 && (b[l] == '\0' || b[l] == '/');
}

/* Normalizes state.paths in place (no "//", no trailing '/') and refuses
 * "." and ".." components and any path given twice or inside another:
 * each would be archived and swapped in twice, and a restore would
 * report success while leaving newer local content. Sorted, an overlap
 * always shows between neighbours, so this is O(n log n). */
static int check_state_paths(char **paths, const char *origin, char **ret_error)
{
	_cleanup_free_ char **v = NULL;
	size_t n = 0;

	for (char **p = paths; p && *p; p++) {
		char *o = *p;
		for (const char *i = *p; *i; i++)
			if (*i != '/' || o == *p || o[-1] != '/')
				*o++ = *i;
		if (o > *p + 1 && o[-1] == '/')
			o--;
		*o = '\0';
		for (const char *s = *p; s; s = strchr(s + 1, '/'))
			if (streq(s, "/.") || startswith(s, "/./") || streq(s, "/..") ||
			    startswith(s, "/../"))
				return set_error(
				    ret_error, origin, "state.paths",
				    "\"%s\" has a '.' or '..' component; give it plainly", *p);
		n++;
	}
	if (n < 2)
		return 0;
	v = xcalloc(n, sizeof(char *));
	memcpy(v, paths, n * sizeof(char *));
	qsort(v, n, sizeof(char *), path_cmp);
	for (size_t i = 0; i + 1 < n; i++) {
		if (streq(v[i], v[i + 1]))
			return set_error(ret_error, origin, "state.paths",
					 "\"%s\" is given twice; list each path once", v[i]);
		if (path_covers(v[i], v[i + 1]))
			return set_error(ret_error, origin, "state.paths",
					 "\"%s\" is inside \"%s\"; list only \"%s\"", v[i + 1],
					 v[i], v[i]);
	}
	return 0;
}

/* The agent's state and the projects directory; a projects directory
 * that holds the agent's state (workspace.projects_dir = the home) stands
 * for both, as state.paths refuses a path inside another. */
static char **default_state_paths(const struct config *c)
{
	char **v = xcalloc(4, sizeof(char *));
	size_t n = 0;

	v[n++] = xasprintf("%s/.claude", c->workspace_home);
	v[n++] = xasprintf("%s/.claude.json", c->workspace_home);
	for (size_t i = 0; i < n;)
		if (path_covers(c->workspace_projects_dir, v[i])) {
			free(v[i]);
			v[i] = v[--n];
			v[n] = NULL;
		} else if (path_covers(v[i], c->workspace_projects_dir))
			return v; /* projects inside ~/.claude: already kept */
		else
			i++;
	v[n] = xstrdup(c->workspace_projects_dir);
	return v;
}

int config_memory_limit(const char *s, uint64_t ram, uint64_t *ret_bytes)
{
	static const char units[] = "kmgt";
	const char *u;
	double v, mult = 1;
	char *end;

	if (streq(s, "none")) {
		*ret_bytes = 0;
		return 0;
	}
	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s)
		return -EINVAL;
	if (streq(end, "%")) {
		if (v <= 0 || v > 100)
			return -EINVAL;
		v = v / 100 * (double)ram;
	} else if (*end) {
		u = strchr(units, tolower((unsigned char)*end));
		if (!u || end[1] != '\0')
			return -EINVAL;
		for (long i = 0; i <= u - units; i++)
			mult *= 1024;
		v *= mult;
	}
	/* Docker refuses less than 6 MiB; a workspace with 4 MiB is a typo anyway */
	if (v < 4.0 * 1024 * 1024 || v > 1e18)
		return -EINVAL;
	*ret_bytes = (uint64_t)v;
	return 0;
}

/* provider.name is "auto" or a row of the provider table (lib/provider.c).
 * agentbox-monitor does not link the table, which would bring libcurl
 * into the daemon: there provider_names is NULL and the name is checked
 * by its identify job (agentbox, which links it). */
#pragma weak provider_names
static int check_provider_name(const struct config *c, const char *origin, char **ret_error)
{
	const char *const *names;
	char choices[256] = "";

	if (!provider_names)
		return 0;
	names = provider_names();
	for (int i = 0; names[i]; i++)
		if (streq(names[i], c->provider_name))
			return 0;
	for (int i = 0; names[i]; i++)
		snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices), "%s\"%s\"",
			 i ? ", " : "", names[i]);
	return set_error(ret_error, origin, "provider.name", "expected one of %s, got \"%s\"",
			 choices, c->provider_name);
}

int config_finish(struct config *c, char **ret_error)
{
	const char *origin = c->path ? c->path : "config";
	const char *why = NULL;
	uint64_t mem;
	int r;

	if (parse_port_ranges(c->workspace_ports, &c->workspace_port_ranges, &why) < 0)
		return set_error(ret_error, origin, "workspace.ports", "%s", why);
	if (c->workspace_pull_retries != floor(c->workspace_pull_retries))
		return set_error(ret_error, origin, "workspace.pull_retries",
				 "must be a whole number");
	if (c->workspace_pids_limit != floor(c->workspace_pids_limit))
		return set_error(ret_error, origin, "workspace.pids_limit",
				 "must be a whole number");
	if (config_memory_limit(c->workspace_memory, 1ULL << 40, &mem) < 0)
		return set_error(ret_error, origin, "workspace.memory",
				 "expected a share of the machine's memory (\"90%%\"), a size "
				 "of at least 4m (\"512m\", \"8g\") or \"none\", got \"%s\"",
				 c->workspace_memory);

	if (c->idle_warn_before >= c->idle_timeout)
		return set_error(ret_error, origin, "idle.warn_before",
				 "must be shorter than idle.timeout");
	if (c->provider_metadata_retries != floor(c->provider_metadata_retries))
		return set_error(ret_error, origin, "provider.metadata_retries",
				 "must be a whole number");
	if (c->provider_delete_retries != floor(c->provider_delete_retries))
		return set_error(ret_error, origin, "provider.delete_retries",
				 "must be a whole number");
	if (!startswith(c->provider_hetzner_api_url, "https://") &&
	    !startswith(c->provider_hetzner_api_url, "http://"))
		return set_error(ret_error, origin, "provider.hetzner.api_url",
				 "expected an http:// or https:// URL, got \"%s\"",
				 c->provider_hetzner_api_url);
	r = check_provider_name(c, origin, ret_error);
	if (r < 0)
		return r;
	if (c->provider_api_url && !startswith(c->provider_api_url, "https://") &&
	    !startswith(c->provider_api_url, "http://"))
		return set_error(ret_error, origin, "provider.api_url",
				 "expected an http:// or https:// URL, got \"%s\"",
				 c->provider_api_url);
	if (c->provider_ec2_api_url && !startswith(c->provider_ec2_api_url, "https://") &&
	    !startswith(c->provider_ec2_api_url, "http://"))
		return set_error(ret_error, origin, "provider.ec2.api_url",
				 "expected an http:// or https:// URL, got \"%s\"",
				 c->provider_ec2_api_url);
	if (!c->workspace_home) {
		struct passwd *pw = getpwnam(c->workspace_user);
		if (!pw || !pw->pw_dir || pw->pw_dir[0] != '/')
			return set_error(ret_error, origin, "workspace.home",
					 "not set, and workspace.user '%s' has no home on this "
					 "machine; create the user or set workspace.home",
					 c->workspace_user);
		c->workspace_home = xstrdup(pw->pw_dir);
	}
	if (!c->workspace_projects_dir)
		c->workspace_projects_dir = xasprintf("%s/work", c->workspace_home);
	if (!c->idle_watch_paths) {
		/* the projects directory too where it is outside the home: its
		 * writes are activity, and what tells the backups to run */
		c->idle_watch_paths = xcalloc(3, sizeof(char *));
		c->idle_watch_paths[0] = xstrdup(c->workspace_home);
		if (!path_covers(c->workspace_home, c->workspace_projects_dir))
			c->idle_watch_paths[1] = xstrdup(c->workspace_projects_dir);
	}
	if (!c->state_paths)
		c->state_paths = default_state_paths(c);
	if (check_state_paths(c->state_paths, origin, ret_error) < 0)
		return -EINVAL;
	if (c->state_keep != floor(c->state_keep))
		return set_error(ret_error, origin, "state.keep", "must be a whole number");
	if (c->state_compression_level != floor(c->state_compression_level))
		return set_error(ret_error, origin, "state.compression_level",
				 "must be a whole number");
	if (c->state_storage_bucket) {
		/* S3's rule; Ceph RGW (Hetzner) and R2 refuse shorter names. */
		size_t l = strlen(c->state_storage_bucket);
		if (l < 3 || l > 63 ||
		    strspn(c->state_storage_bucket,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != l)
			return set_error(ret_error, origin, "state.storage.bucket",
					 "\"%s\" is not a bucket name: S3 bucket names are 3 to 63 "
					 "letters, digits, dots and hyphens",
					 c->state_storage_bucket);
	}
	if (!c->state_storage_prefix)
		c->state_storage_prefix = xasprintf("agentbox/%s/", c->workspace_name);
	else if (c->state_storage_prefix[strlen(c->state_storage_prefix) - 1] != '/') {
		char *p = xasprintf("%s/", c->state_storage_prefix);
		free(c->state_storage_prefix);
		c->state_storage_prefix = p;
	}
	return 0;
}

static cJSON *conf_value_to_json(const struct config *c, const struct conf_key *k)
{
	char buf[FORMAT_DURATION_MAX];
	cJSON *a;

	switch (k->type) {
	case CONF_STRING:
	case CONF_NAME:
	case CONF_PATH: {
		const char *s = *FIELD(c, k, char *);
		return s ? cJSON_CreateString(s) : cJSON_CreateNull();
	}
	case CONF_DURATION_OFF:
		if (*FIELD(c, k, usec_t) == 0)
			return cJSON_CreateString("off");
		/* fall through */
	case CONF_DURATION:
		format_duration_exact(buf, sizeof(buf), *FIELD(c, k, usec_t));
		return cJSON_CreateString(buf);
	case CONF_BOOL:
		return cJSON_CreateBool(*FIELD(c, k, int));
	case CONF_ENUM:
		return cJSON_CreateString(k->choices[*FIELD(c, k, int)]);
	case CONF_PATHS:
	case CONF_STRV:
		a = cJSON_CreateArray();
		for (char **p = *FIELD(c, k, char **); p && *p; p++)
			cJSON_AddItemToArray(a, cJSON_CreateString(*p));
		return a;
	case CONF_PORTS: {
		const struct config_ports *ports = FIELD(c, k, struct config_ports);
		a = cJSON_CreateArray();
		for (size_t i = 0; i < ports->n; i++)
			cJSON_AddItemToArray(a, cJSON_CreateNumber(ports->port[i]));
		return a;
	}
	case CONF_NUMBER:
		return cJSON_CreateNumber(*FIELD(c, k, double));
	case CONF_PORT:
		return cJSON_CreateNumber(*FIELD(c, k, int));
	}
	return cJSON_CreateNull();
}

char *config_to_json(const struct config *c)
{
	cJSON *root = cJSON_CreateObject();
	char *text;

	for (size_t i = 0; i < ELEMENTSOF(conf_table); i++) {
		const struct conf_key *k = &conf_table[i];
		const char *dot = strchr(k->key, '.');
		cJSON *parent = root;

		if (dot) {
			_cleanup_free_ char *section = strndup(k->key, (size_t)(dot - k->key));
			parent = cJSON_GetObjectItemCaseSensitive(root, section);
			if (!parent)
				parent = cJSON_AddObjectToObject(root, section);
		}
		/* unset derived values are left out rather than shown as null */
		if ((k->type == CONF_PATH || k->type == CONF_PATHS || k->type == CONF_STRING) &&
		    !*FIELD(c, k, void *))
			continue;
		cJSON_AddItemToObject(parent, dot ? dot + 1 : k->key, conf_value_to_json(c, k));
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	return text;
}

const char *const *config_key_names(void)
{
	static const char *names[ELEMENTSOF(conf_table) + 1];

	for (size_t i = 0; i < ELEMENTSOF(conf_table); i++)
		names[i] = conf_table[i].key;
	return names;
}

const char *idle_action_to_string(int a)
{
	return a >= 0 && a < (int)ELEMENTSOF(idle_actions) - 1 ? idle_actions[a] : "unknown";
}

struct config *config_load_for_program(const char *path)
{
	_cleanup_(config_freep) struct config *c = config_new();
	_cleanup_free_ char *error = NULL;

	if (config_load_file(c, path ? path : CONFIG_DEFAULT_PATH, path != NULL, &error) < 0 ||
	    config_finish(c, &error) < 0) {
		log_event(LOG_ERR, MSGID_CONFIG_ERROR, NULL, 0, "%s", error);
		return NULL;
	}
	return TAKE_PTR(c);
}
