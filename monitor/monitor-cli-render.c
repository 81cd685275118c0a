/* agentbox render-user-data; see monitor-cli-render.h and
 * docs/quickstart.md.
 *
 * The templates (cloud-init/<provider>.yaml) and the deb installer script
 * (cloud-init/install-deb.sh) are compiled in, so the one binary renders
 * on a laptop without the source tree (.incbin paths are relative to the
 * top directory, where make runs the compiler). Every value reaches the
 * YAML as a double-quoted scalar (render_yaml_quote), as JSON that cJSON
 * wrote inside a literal block, base64-encoded (files, secrets), or bare
 * only when checked to be a number or a user name, so no value can change
 * the document's structure. The agentbox.json it writes is checked by
 * lib/config before anything is printed. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "config.h"
#include "envfile.h"
#include "fileio.h"
#include "macro.h"
#include "monitor-cli-render.h"
#include "s3.h"
#include "time-util.h"

/* The templates, as NUL-terminated strings in .rodata. */
extern const char render_tmpl_hetzner[], render_tmpl_ec2[], render_install_deb[];
__asm__(".pushsection .rodata\n"
	".global render_tmpl_hetzner\n"
	"render_tmpl_hetzner:\n"
	".incbin \"cloud-init/hetzner.yaml\"\n"
	".byte 0\n"
	".global render_tmpl_ec2\n"
	"render_tmpl_ec2:\n"
	".incbin \"cloud-init/ec2.yaml\"\n"
	".byte 0\n"
	".global render_install_deb\n"
	"render_install_deb:\n"
	".incbin \"cloud-init/install-deb.sh\"\n"
	".byte 0\n"
	".popsection\n");

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

#define SSH_KEY_FILE_MAX (64 * 1024)
#define EXTRA_CONFIG_MAX (64 * 1024)

/* The env file's keys, for --help and to refuse typos. */
static const struct {
	const char *name, *meaning;
} keys[] = {
    {"PROVIDER", "hetzner or ec2 (required)"},
    {"INSTALL", "deb: install the .deb from DEB_URL; baked: the VM image has agentbox (required)"},
    {"DEB_URL", "http(s) URL of agentbox_<version>_amd64.deb (INSTALL=deb)"},
    {"DEB_SHA256", "its sha256, 64 hex digits (INSTALL=deb)"},
    {"WORKSPACE_NAME",
     "the workspace's name; its state is agentbox/<name>/ in the bucket (required)"},
    {"WORKSPACE_IMAGE", "the workspace container's image (required)"},
    {"WORKSPACE_USER", "the user the agents run as (default agent)"},
    {"WORKSPACE_UID", "its uid, as in the image (default 1000)"},
    {"LOGIN_USER", "the SSH login user, the VM's administrator (default admin)"},
    {"SSH_KEY", "the login user's SSH public key (or SSH_KEY_FILE)"},
    {"SSH_KEY_FILE", "a file of SSH public keys, one a line (or SSH_KEY)"},
    {"BUCKET", "the state bucket (required)"},
    {"S3_ENDPOINT", "S3 endpoint URL (required on hetzner; AWS when unset)"},
    {"S3_REGION", "region of the bucket, e.g. fsn1 or eu-central-1 (required)"},
    {"S3_PATH_STYLE", "true or false (default: true with S3_ENDPOINT, false without)"},
    {"S3_CREDENTIALS_FILE", "secret: AWS credentials file for the bucket (required on hetzner; "
			    "on ec2 unset means the instance profile)"},
    {"HCLOUD_TOKEN_FILE", "secret: Hetzner Cloud API token, read+write (required on hetzner)"},
    {"HETZNER_API_URL", "Hetzner API base URL (default https://api.hetzner.cloud/v1)"},
    {"EC2_TERMINATE", "shutdown or api (default shutdown)"},
    {"IDLE_TIMEOUT", "quiet this long means idle (default 30m)"},
    {"IDLE_ACTION", "delete, poweroff or none (default delete)"},
    {"REGISTRY_AUTH_FILE", "secret: registry credentials for WORKSPACE_IMAGE"},
    {"DISPLAY_LISTEN", "address of the screen's web port (default 127.0.0.1: SSH tunnel)"},
    {"DISPLAY_PASSWORD_FILE", "secret: the screen's VNC password (RFB; optional)"},
    {"DISPLAY_WEB_PASSWORD_FILE",
     "secret: the web login's password, 16+ characters (needed off loopback)"},
    {"DISPLAY_TLS_CERT_FILE", "PEM certificate of the screen's web port (needed off loopback)"},
    {"DISPLAY_TLS_KEY_FILE", "secret: its PEM private key (needed off loopback)"},
    {"STATE_KEY_FILE", "secret: the state's encryption key (64 hex digits); generated there "
		       "when missing (default <WORKSPACE_NAME>.state-key beside ENV_FILE)"},
    {"EXTRA_CONFIG", "a JSON object merged into agentbox.json"},
    {"EXTRA_CONFIG_FILE", "a file holding such a JSON object"},
};

enum var_kind {
	VAR_QUOTED, /* a string, written as a YAML double-quoted scalar */
	VAR_RAW,    /* YAML made here (a number, a list of quoted scalars) */
	VAR_BLOCK,  /* lines, written at the indentation of the @@NAME@@ line */
};

struct var {
	const char *name;
	enum var_kind kind;
	char *value;
};

struct render {
	const char *env_path;
	char *env_dir; /* relative paths in the env file are relative to it */
	struct envfile *env;
	char *error; /* the first error, one line */
	struct var vars[24];
	size_t n_vars;
	int hetzner;
};

static void render_done(struct render *r)
{
	free(r->env_dir);
	envfile_free(r->env);
	free(r->error);
	for (size_t i = 0; i < r->n_vars; i++)
		freezero_str(r->vars[i].value);
}

/* Records the error about key (with its line when it is set); -EINVAL. */
static int key_error(struct render *r, const char *key, const char *fmt, ...) _printf_(3, 4);
static int key_error(struct render *r, const char *key, const char *fmt, ...)
{
	const struct envfile_entry *e = envfile_get(r->env, key);
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	free(r->error);
	if (e)
		r->error = xasprintf("%s:%u: %s: %s", r->env_path, e->line, key, msg);
	else
		r->error = xasprintf("%s: %s: %s", r->env_path, key, msg);
	return -EINVAL;
}

static const char *meaning(const char *key)
{
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		if (streq(keys[i].name, key))
			return keys[i].meaning;
	return "";
}

/* The value of key; NULL when unset or empty. */
static const char *get(const struct render *r, const char *key)
{
	const struct envfile_entry *e = envfile_get(r->env, key);
	return e && e->value[0] ? e->value : NULL;
}

static int need(struct render *r, const char *key, const char **ret)
{
	*ret = get(r, key);
	if (*ret)
		return 0;
	return key_error(r, key, "missing; set it in the env file (%s)", meaning(key));
}

static int refuse_with(struct render *r, const char *key, const char *why)
{
	if (!get(r, key))
		return 0;
	return key_error(r, key, "%s", why);
}

static void set_var(struct render *r, const char *name, enum var_kind kind, char *value)
{
	if (r->n_vars >= ELEMENTSOF(r->vars))
		abort();
	r->vars[r->n_vars++] = (struct var){name, kind, value};
}

static const struct var *find_var(const struct render *r, const char *name, size_t len)
{
	for (size_t i = 0; i < r->n_vars; i++)
		if (strlen(r->vars[i].name) == len && strncmp(r->vars[i].name, name, len) == 0)
			return &r->vars[i];
	return NULL;
}

/* Decodes one UTF-8 character (shortest form, no surrogates); returns its
 * length, or -1. */
static int utf8_next(const char *s, uint32_t *ret)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;
	uint32_t c;

	if (p[0] < 0x80) {
		*ret = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0)
		n = 2, c = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, c = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, c = p[0] & 0x07;
	else
		return -1;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*ret = c;
	return n;
}

static int utf8_valid(const char *s)
{
	uint32_t c;

	while (*s) {
		int n = utf8_next(s, &c);
		if (n < 0)
			return 0;
		s += n;
	}
	return 1;
}

char *render_yaml_quote(const char *s)
{
	size_t cap = strlen(s) * 10 + 3, o = 0;
	char *out = xmalloc(cap);
	uint32_t c;

	out[o++] = '"';
	while (*s) {
		int n = utf8_next(s, &c);
		if (n < 0) /* callers check; never emit what YAML would refuse */
			abort();
		s += n;
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\%c", (char)c);
		else if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else if (c < 0x100)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else if (c < 0x10000)
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		else
			o += (size_t)snprintf(out + o, cap - o, "\\U%08x", c);
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* JSON text with every non-ASCII character as \uXXXX (a surrogate pair
 * above U+FFFF): printable ASCII fits any YAML block. */
static char *json_ascii(const char *s)
{
	size_t cap = strlen(s) * 12 + 1, o = 0;
	char *out = xmalloc(cap);
	uint32_t c;

	while (*s) {
		int n = utf8_next(s, &c);
		if (n < 0)
			abort();
		s += n;
		if (c < 0x80)
			out[o++] = (char)c;
		else if (c < 0x10000)
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		else
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x\\u%04x",
					      0xd800 + ((c - 0x10000) >> 10),
					      0xdc00 + ((c - 0x10000) & 0x3ff));
	}
	out[o] = '\0';
	return out;
}

static char *base64(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

/* A path from the env file: relative ones are relative to its directory
 * (and never a bare name, which read_secret() would take for a systemd
 * credential). */
static char *env_path(const struct render *r, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	return xasprintf("%s/%s", r->env_dir, path);
}

static int check_chars(struct render *r, const char *key, const char *allowed_extra)
{
	const char *v = get(r, key);

	for (const char *p = v; p && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr(allowed_extra, *p)))
			return key_error(r, key, "'%c' is not allowed here", *p);
	return 0;
}

static int check_url(struct render *r, const char *key)
{
	const char *v = get(r, key);

	if (!v)
		return 0;
	if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
		return key_error(r, key, "expected an http:// or https:// URL, got \"%s\"", v);
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\')
			return key_error(r, key,
					 "a URL has no blanks, quotes or non-ASCII characters");
	return 0;
}

/* A POSIX user name, as useradd accepts by default. */
static int check_user(struct render *r, const char *key, const char *v)
{
	size_t n = strlen(v);

	if (n > 32 || !((v[0] >= 'a' && v[0] <= 'z') || v[0] == '_'))
		return key_error(r, key,
				 "\"%s\" is not a user name (a-z, 0-9, _ and -, starting "
				 "with a letter, at most 32)",
				 v);
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			return key_error(r, key, "\"%s\" is not a user name (a-z, 0-9, _ and -)",
					 v);
	if (streq(v, "root"))
		return key_error(r, key, "root is not allowed here");
	return 0;
}

/* One authorized_keys entry: "TYPE BASE64 [comment]", no options. */
static int ssh_key_ok(const char *line)
{
	const char *sp = strchr(line, ' ');

	if (!sp || !(strncmp(line, "ssh-", 4) == 0 || strncmp(line, "ecdsa-", 6) == 0 ||
		     strncmp(line, "sk-", 3) == 0))
		return 0;
	if (strspn(sp + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") <
	    16)
		return 0;
	return 1;
}

/* SSH_KEY or SSH_KEY_FILE into the SSH_KEYS list (comma-separated quoted
 * scalars for a flow sequence). */
static int render_ssh_keys(struct render *r)
{
	const char *key = get(r, "SSH_KEY"), *file = get(r, "SSH_KEY_FILE"), *which;
	_cleanup_free_ char *text = NULL, *path = NULL, *list = xstrdup("");
	unsigned lineno = 0, n = 0;
	int q;

	if (key && file)
		return key_error(r, "SSH_KEY_FILE", "set SSH_KEY or SSH_KEY_FILE, not both");
	if (!key && !file)
		return key_error(r, "SSH_KEY",
				 "missing; set SSH_KEY (a public key) or SSH_KEY_FILE");
	which = key ? "SSH_KEY" : "SSH_KEY_FILE";
	if (key)
		text = xstrdup(key);
	else {
		path = env_path(r, file);
		q = read_file(path, SSH_KEY_FILE_MAX, &text, NULL);
		if (q < 0)
			return key_error(r, which, "cannot read %s: %s", path,
					 q == -EFBIG ? "larger than 64 KiB" : strerror(-q));
	}
	if (strstr(text, "PRIVATE KEY"))
		return key_error(r, which,
				 "this is a private key; give the public one (the .pub file)");
	for (char *line = text, *next; line; line = next) {
		_cleanup_free_ char *quoted = NULL;
		char *old = list;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		for (const char *p = line; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return key_error(r, which, "line %u: control character", lineno);
		if (!utf8_valid(line))
			return key_error(r, which, "line %u: not UTF-8 text", lineno);
		if (!ssh_key_ok(line))
			return key_error(r, which,
					 "line %u is not an SSH public key (\"ssh-ed25519 AAAA... "
					 "comment\"; options are not supported)",
					 lineno);
		quoted = render_yaml_quote(line);
		list = xasprintf("%s%s%s", old, n ? ", " : "", quoted);
		free(old);
		n++;
	}
	if (n == 0)
		return key_error(r, which, "no public key in it");
	set_var(r, "SSH_KEYS", VAR_RAW, TAKE_PTR(list));
	return 0;
}

/* Sets a dotted key ("state.storage.credentials_file") in config. */
static void config_set(cJSON *config, const char *dotted, const char *value)
{
	_cleanup_free_ char *name = xstrdup(dotted);
	char *part = name, *dot;
	cJSON *o = config;

	while ((dot = strchr(part, '.'))) {
		cJSON *next;
		*dot = '\0';
		next = cJSON_GetObjectItemCaseSensitive(o, part);
		o = next ? next : cJSON_AddObjectToObject(o, part);
		part = dot + 1;
	}
	cJSON_AddStringToObject(o, part, value);
}

/* A file the env file names, copied onto the VM. */
struct file_spec {
	const char *key;	/* the env key naming it */
	const char *dest;	/* where it goes on the VM */
	const char *config_key; /* which names it there */
	const char *credential; /* a systemd credential of agentbox-display, or NULL */
	int secret;		/* 0600 and read as a secret, or 0644 */
	const char *(*check)(const char *path, const char *text);
};

/* Reads the file of spec->key (a secret one as the VM will: 0600), checks
 * it, adds its write_files entry (base64) to *files and its name to the
 * config: the path, or the credential that a drop-in loads from it (the
 * display runs as the workspace user and cannot open a root 0600 file). */
static int render_file(struct render *r, const struct file_spec *spec, char **files, char **dropin,
		       cJSON *config)
{
	const char *v = get(r, spec->key), *why = NULL;
	_cleanup_free_ char *path = NULL, *entry = NULL, *b64 = NULL, *withnl = NULL;
	_cleanup_secret_ char *text = NULL;
	char *old;
	int q;

	if (!v)
		return 0;
	path = env_path(r, v);
	if (spec->secret)
		q = read_secret(path, &text, &why);
	else
		q = read_file(path, SSH_KEY_FILE_MAX, &text, NULL);
	if (q < 0 && why)
		return key_error(r, spec->key, "%s %s (%s)", path, why, strerror(-q));
	if (q < 0)
		return key_error(r, spec->key, "cannot read %s: %s", path, strerror(-q));
	while (!spec->secret && *text && text[strlen(text) - 1] == '\n')
		text[strlen(text) - 1] = '\0';
	if (!text[0])
		return key_error(r, spec->key, "%s is empty", path);
	why = spec->check ? spec->check(path, text) : NULL;
	if (why)
		return key_error(r, spec->key, "%s %s", path, why);
	withnl = xasprintf("%s\n", text);
	b64 = base64(withnl);
	explicit_bzero(withnl, strlen(withnl));
	entry = xasprintf("%s- path: %s\n"
			  "  owner: root:root\n"
			  "  permissions: \"%s\"\n"
			  "  encoding: b64\n"
			  "  content: %s\n",
			  *files, spec->dest, spec->secret ? "0600" : "0644", b64);
	free(*files);
	*files = TAKE_PTR(entry);
	if (spec->credential) {
		old = *dropin;
		*dropin = xasprintf("%sLoadCredential=%s:%s\n", old, spec->credential, spec->dest);
		free(old);
	}
	config_set(config, spec->config_key, spec->credential ?: spec->dest);
	return 0;
}

static const char *check_s3_credentials(const char *path, const char *text)
{
	_cleanup_(s3_client_freep) struct s3_client *s = s3_client_new(NULL, "us-east-1", "x", 0);
	const char *why = NULL;

	(void)text;
	/* the VM reads profile "default": check exactly that */
	if (s3_client_load_credentials(s, path, "default", &why) < 0)
		return why ? why : "is not an AWS credentials file with a [default] profile";
	return NULL;
}

static const char *check_token(const char *path, const char *text)
{
	(void)path;
	for (const char *p = text; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return "is not one token on one line (blanks or other characters in it)";
	return NULL;
}

static const char *check_cert(const char *path, const char *text)
{
	(void)path;
	return strstr(text, "-----BEGIN CERTIFICATE-----") ? NULL
							   : "is not a PEM certificate (chain)";
}

static const char *check_key(const char *path, const char *text)
{
	(void)path;
	return strstr(text, "-----BEGIN ") && strstr(text, "PRIVATE KEY-----")
		   ? NULL
		   : "is not a PEM private key";
}

static const char *check_text(const char *path, const char *text)
{
	(void)path;
	return utf8_valid(text) ? NULL : "is not UTF-8 text";
}

/* The web front's password: what agentbox-display takes (trailing
 * newlines cut, 16 to 1024 characters). */
static const char *check_web_password(const char *path, const char *text)
{
	size_t n = strlen(text);

	while (n > 0 && text[n - 1] == '\n')
		n--;
	if (n < 16 || n > 1024)
		return "must hold 16 to 1024 characters (make one with: openssl rand -base64 24)";
	return check_text(path, text);
}

/* Splits keys with dots ("idle.timeout") into nested objects, in place,
 * so that a merge sees one spelling. */
static int expand_dotted(cJSON *o, char **ret_key)
{
	cJSON *item = o->child;

	while (item) {
		cJSON *next = item->next;
		if (strchr(item->string, '.')) {
			_cleanup_free_ char *name = xstrdup(item->string);
			char *part = name, *dot;
			cJSON *parent = o, *leaf = cJSON_DetachItemViaPointer(o, item);

			while ((dot = strchr(part, '.'))) {
				cJSON *child;
				*dot = '\0';
				child = cJSON_GetObjectItemCaseSensitive(parent, part);
				if (!child)
					child = cJSON_AddObjectToObject(parent, part);
				if (!cJSON_IsObject(child)) {
					cJSON_Delete(leaf);
					*ret_key = xstrdup(part);
					return -EINVAL;
				}
				parent = child;
				part = dot + 1;
			}
			if (cJSON_GetObjectItemCaseSensitive(parent, part)) {
				cJSON_Delete(leaf);
				*ret_key = xstrdup(part);
				return -EINVAL;
			}
			cJSON_AddItemToObject(parent, part, leaf);
			item = next;
			continue;
		}
		if (cJSON_IsObject(item)) {
			int q = expand_dotted(item, ret_key);
			if (q < 0)
				return q;
		}
		item = next;
	}
	return 0;
}

/* Merges src into dst: objects recursively, anything else replaced. */
static void merge(cJSON *dst, cJSON *src)
{
	cJSON *item;

	while ((item = src->child)) {
		cJSON *old = cJSON_GetObjectItemCaseSensitive(dst, item->string);
		cJSON_DetachItemViaPointer(src, item);
		if (old && cJSON_IsObject(old) && cJSON_IsObject(item)) {
			merge(old, item);
			cJSON_Delete(item);
		} else if (old)
			cJSON_ReplaceItemViaPointer(dst, old, item);
		else
			cJSON_AddItemToObject(dst, item->string, item);
	}
}

/* Config keys the env file sets: EXTRA_CONFIG may not set them too (the
 * user-data uses some of them itself, such as the user's name). */
static const struct {
	const char *path[4];
	const char *key;
} owned[] = {
    {{"workspace", "name"}, "WORKSPACE_NAME"},
    {{"workspace", "user"}, "WORKSPACE_USER"},
    {{"workspace", "image"}, "WORKSPACE_IMAGE"},
    {{"workspace", "registry_auth_file"}, "REGISTRY_AUTH_FILE"},
    {{"idle", "timeout"}, "IDLE_TIMEOUT"},
    {{"idle", "action"}, "IDLE_ACTION"},
    {{"state", "storage", "bucket"}, "BUCKET"},
    {{"state", "storage", "endpoint"}, "S3_ENDPOINT"},
    {{"state", "storage", "region"}, "S3_REGION"},
    {{"state", "storage", "path_style"}, "S3_PATH_STYLE"},
    {{"state", "storage", "credentials_file"}, "S3_CREDENTIALS_FILE"},
    {{"state", "encryption", "key_file"}, "STATE_KEY_FILE"},
    {{"provider", "name"}, "PROVIDER"},
    {{"provider", "hetzner", "token_file"}, "HCLOUD_TOKEN_FILE"},
    {{"provider", "hetzner", "api_url"}, "HETZNER_API_URL"},
    {{"provider", "ec2", "terminate"}, "EC2_TERMINATE"},
    {{"display", "listen"}, "DISPLAY_LISTEN"},
    {{"display", "password_file"}, "DISPLAY_PASSWORD_FILE"},
    {{"display", "web_password_file"}, "DISPLAY_WEB_PASSWORD_FILE"},
    {{"display", "tls_cert_file"}, "DISPLAY_TLS_CERT_FILE"},
    {{"display", "tls_key_file"}, "DISPLAY_TLS_KEY_FILE"},
};

static int render_extra_config(struct render *r, cJSON *config)
{
	const char *text = get(r, "EXTRA_CONFIG"), *file = get(r, "EXTRA_CONFIG_FILE");
	const char *key = text ? "EXTRA_CONFIG" : "EXTRA_CONFIG_FILE";
	_cleanup_free_ char *buf = NULL, *path = NULL, *bad = NULL;
	cJSON *extra;
	int q;

	if (text && file)
		return key_error(r, "EXTRA_CONFIG_FILE",
				 "set EXTRA_CONFIG or EXTRA_CONFIG_FILE, not both");
	if (file) {
		path = env_path(r, file);
		q = read_file(path, EXTRA_CONFIG_MAX, &buf, NULL);
		if (q < 0)
			return key_error(r, key, "cannot read %s: %s", path,
					 q == -EFBIG ? "larger than 64 KiB" : strerror(-q));
		text = buf;
	}
	if (!text)
		return 0;
	if (!utf8_valid(text))
		return key_error(r, key, "not UTF-8 text");
	extra = cJSON_Parse(text);
	if (!cJSON_IsObject(extra)) {
		cJSON_Delete(extra);
		return key_error(r, key,
				 "not a JSON object such as {\"idle\": {\"warn_before\": \"2m\"}}");
	}
	q = expand_dotted(extra, &bad);
	if (q < 0) {
		cJSON_Delete(extra);
		return key_error(r, key, "\"%s\" is given twice, or both as a value and an object",
				 bad);
	}
	for (size_t i = 0; i < ELEMENTSOF(owned); i++) {
		const cJSON *o = extra;
		const char *const *p = owned[i].path;
		for (; *p && o; p++)
			o = cJSON_GetObjectItemCaseSensitive(o, *p);
		if (o) {
			cJSON_Delete(extra);
			return key_error(r, key, "%s.%s%s%s: set %s in the env file instead",
					 owned[i].path[0], owned[i].path[1],
					 owned[i].path[2] ? "." : "", strempty(owned[i].path[2]),
					 owned[i].key);
		}
	}
	merge(config, extra);
	cJSON_Delete(extra);
	return 0;
}

static cJSON *obj(cJSON *parent, const char *name)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, name);
	return o ? o : cJSON_AddObjectToObject(parent, name);
}

/* Every key known, every value UTF-8. */
static int render_check_keys(struct render *r)
{
	for (size_t i = 0; i < r->env->n; i++) {
		const char *k = r->env->entries[i].key;
		if (!meaning(k)[0])
			return key_error(r, k,
					 "unknown key (the keys are listed by "
					 "\"agentbox render-user-data --help\")");
		if (!utf8_valid(r->env->entries[i].value))
			return key_error(r, k, "not UTF-8 text");
	}
	return 0;
}

/* PROVIDER, and the keys that belong to one provider only. */
static int render_provider(struct render *r)
{
	const char *provider, *v;
	int q;

	if ((q = need(r, "PROVIDER", &provider)) < 0)
		return q;
	if (!streq(provider, "hetzner") && !streq(provider, "ec2"))
		return key_error(r, "PROVIDER", "expected hetzner or ec2, got \"%s\"", provider);
	r->hetzner = streq(provider, "hetzner");
	if (r->hetzner) {
		if ((q = need(r, "S3_ENDPOINT", &v)) < 0 ||
		    (q = need(r, "S3_CREDENTIALS_FILE", &v)) < 0 ||
		    (q = need(r, "HCLOUD_TOKEN_FILE", &v)) < 0 ||
		    (q = refuse_with(r, "EC2_TERMINATE", "only with PROVIDER=ec2")) < 0)
			return q;
	} else if ((q = refuse_with(r, "HCLOUD_TOKEN_FILE", "only with PROVIDER=hetzner")) < 0 ||
		   (q = refuse_with(r, "HETZNER_API_URL", "only with PROVIDER=hetzner")) < 0)
		return q;
	return 0;
}

/* INSTALL: the deb's URL, sha256 and installer script, or nothing. */
static int render_install(struct render *r)
{
	const char *install, *url, *sha;
	char *lower;
	int q;

	if ((q = need(r, "INSTALL", &install)) < 0)
		return q;
	if (streq(install, "baked")) {
		if ((q = refuse_with(r, "DEB_URL", "only with INSTALL=deb")) < 0 ||
		    (q = refuse_with(r, "DEB_SHA256", "only with INSTALL=deb")) < 0)
			return q;
		return 0;
	}
	if (!streq(install, "deb"))
		return key_error(r, "INSTALL", "expected deb or baked, got \"%s\"", install);
	if ((q = need(r, "DEB_URL", &url)) < 0 || (q = check_url(r, "DEB_URL")) < 0 ||
	    (q = need(r, "DEB_SHA256", &sha)) < 0)
		return q;
	if (strlen(sha) != 64 || strspn(sha, "0123456789abcdefABCDEF") != 64)
		return key_error(r, "DEB_SHA256", "expected 64 hex digits (sha256sum of the .deb)");
	lower = xstrdup(sha); /* sha256sum -c prints lower case; either is fine */
	for (char *p = lower; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	set_var(r, "DEB", VAR_RAW, xstrdup("1"));
	set_var(r, "DEB_URL", VAR_QUOTED, xstrdup(url));
	set_var(r, "DEB_SHA256", VAR_QUOTED, lower);
	set_var(r, "INSTALL_DEB_SCRIPT", VAR_BLOCK, xstrdup(render_install_deb));
	return 0;
}

/* The workspace user (with its uid) and the login user. */
static int render_users(struct render *r)
{
	const char *user = get(r, "WORKSPACE_USER") ?: "agent";
	const char *login = get(r, "LOGIN_USER") ?: "admin";
	const char *uid = get(r, "WORKSPACE_UID") ?: "1000";
	unsigned long n;
	char *end;
	int q;

	if ((q = check_user(r, "WORKSPACE_USER", user)) < 0 ||
	    (q = check_user(r, "LOGIN_USER", login)) < 0)
		return q;
	if (streq(user, login))
		return key_error(r, "LOGIN_USER",
				 "must differ from WORKSPACE_USER (%s): the workspace "
				 "user's home is writable from the container",
				 user);
	errno = 0;
	n = strtoul(uid, &end, 10);
	if (errno || *end || uid[0] < '0' || uid[0] > '9' || n < 1000 || n > 59999)
		return key_error(r, "WORKSPACE_UID",
				 "expected a number from 1000 to 59999, got \"%s\"", uid);
	set_var(r, "WORKSPACE_USER", VAR_QUOTED, xstrdup(user));
	set_var(r, "LOGIN_USER", VAR_QUOTED, xstrdup(login));
	/* bare, for sshd_config in a literal block: check_user() allowed only [a-z0-9_-] */
	set_var(r, "LOGIN_USER_NAME", VAR_RAW, xstrdup(login));
	set_var(r, "WORKSPACE_UID", VAR_RAW, xasprintf("%lu", n));
	return 0;
}

/* agentbox.json from the plain keys (the secret files come after). */
static int render_config(struct render *r, cJSON *config)
{
	const char *name, *image, *bucket, *region;
	const char *endpoint = get(r, "S3_ENDPOINT"), *path_style = get(r, "S3_PATH_STYLE");
	const char *idle_timeout = get(r, "IDLE_TIMEOUT") ?: "30m";
	cJSON *ws, *storage, *prov;
	usec_t t;
	int q;

	if ((q = need(r, "WORKSPACE_NAME", &name)) < 0 ||
	    (q = need(r, "WORKSPACE_IMAGE", &image)) < 0 || (q = need(r, "BUCKET", &bucket)) < 0 ||
	    (q = need(r, "S3_REGION", &region)) < 0)
		return q;
	if ((q = check_chars(r, "BUCKET", ".-")) < 0 || (q = check_url(r, "S3_ENDPOINT")) < 0 ||
	    (q = check_url(r, "HETZNER_API_URL")) < 0 ||
	    (q = check_chars(r, "S3_REGION", "-_")) < 0)
		return q;
	if (parse_duration(idle_timeout, &t) < 0)
		return key_error(r, "IDLE_TIMEOUT",
				 "expected a duration such as 30m or 2h, got \"%s\"", idle_timeout);
	if (path_style && !streq(path_style, "true") && !streq(path_style, "false"))
		return key_error(r, "S3_PATH_STYLE", "expected true or false, got \"%s\"",
				 path_style);

	ws = obj(config, "workspace");
	cJSON_AddStringToObject(ws, "name", name);
	cJSON_AddStringToObject(ws, "user", get(r, "WORKSPACE_USER") ?: "agent");
	cJSON_AddStringToObject(ws, "image", image);
	cJSON_AddStringToObject(obj(config, "idle"), "timeout", idle_timeout);
	cJSON_AddStringToObject(obj(config, "idle"), "action", get(r, "IDLE_ACTION") ?: "delete");
	storage = obj(obj(config, "state"), "storage");
	if (endpoint)
		cJSON_AddStringToObject(storage, "endpoint", endpoint);
	cJSON_AddStringToObject(storage, "region", region);
	cJSON_AddStringToObject(storage, "bucket", bucket);
	/* S3 itself takes virtual-host style; other endpoints (an address, R2,
	 * a test server) path style */
	cJSON_AddBoolToObject(storage, "path_style",
			      path_style ? streq(path_style, "true") : endpoint != NULL);
	prov = obj(config, "provider");
	cJSON_AddStringToObject(prov, "name", r->hetzner ? "hetzner" : "ec2");
	if (get(r, "HETZNER_API_URL"))
		cJSON_AddStringToObject(obj(prov, "hetzner"), "api_url", get(r, "HETZNER_API_URL"));
	if (get(r, "EC2_TERMINATE"))
		cJSON_AddStringToObject(obj(prov, "ec2"), "terminate", get(r, "EC2_TERMINATE"));
	if (get(r, "DISPLAY_LISTEN"))
		cJSON_AddStringToObject(obj(config, "display"), "listen", get(r, "DISPLAY_LISTEN"));
	return 0;
}

#define STATE_KEY_BYTES 32
#define STATE_KEY_DEST "/etc/agentbox/state.key"

/* Writes a new key (64 hex digits and a newline) to path, never over an
 * existing file (O_EXCL): losing a key the user kept is losing the state. */
static int state_key_generate(const char *path)
{
	unsigned char key[STATE_KEY_BYTES];
	char hex[2 * STATE_KEY_BYTES + 2];
	_cleanup_close_ int fd = -1;
	ssize_t n;
	int q = 0;

	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return -errno;
	for (size_t i = 0; i < sizeof(key); i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	explicit_bzero(key, sizeof(key));
	hex[2 * STATE_KEY_BYTES] = '\n';
	hex[2 * STATE_KEY_BYTES + 1] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		q = -errno;
	else {
		n = write(fd, hex, 2 * STATE_KEY_BYTES + 1);
		if (n != 2 * STATE_KEY_BYTES + 1 || fsync(fd) < 0)
			q = n < 0 || n == 2 * STATE_KEY_BYTES + 1 ? -errno : -EIO;
		if (q < 0)
			unlink(path); /* a torn key must not be taken for one later */
	}
	explicit_bzero(hex, sizeof(hex));
	return q;
}

/* The state's encryption key: STATE_KEY_FILE (default
 * <WORKSPACE_NAME>.state-key beside the env file), generated when it does
 * not exist, shipped as a 0600 file and named by state.encryption.key_file. */
static int render_state_key(struct render *r, char **files, cJSON *config)
{
	const char *v = get(r, "STATE_KEY_FILE"), *name = get(r, "WORKSPACE_NAME"), *why = NULL;
	_cleanup_free_ char *path = NULL, *b64 = NULL, *entry = NULL;
	_cleanup_secret_ char *text = NULL;
	struct stat st;
	int q;

	/* the name becomes part of a path: only a valid one (the config check
	 * refuses the others, naming the key) */
	if (!v &&
	    (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
		 strlen(name) ||
	     name[0] == '.'))
		return 0;
	path = v ? env_path(r, v) : xasprintf("%s/%s.state-key", r->env_dir, name);
	if (lstat(path, &st) < 0 && errno == ENOENT) {
		q = state_key_generate(path);
		if (q < 0)
			return key_error(r, "STATE_KEY_FILE", "cannot write a new key to %s: %s",
					 path, strerror(-q));
		fprintf(stderr,
			"agentbox render-user-data: generated the state's encryption key in %s.\n"
			"  Keep a copy of it somewhere safe (a password manager): the workspace's "
			"state in the bucket\n"
			"  is encrypted with it, and without it nobody can restore that state.\n",
			path);
	}
	q = read_secret(path, &text, &why);
	if (q < 0)
		return key_error(r, "STATE_KEY_FILE", "%s %s (%s)", path, strempty(why),
				 strerror(-q));
	/* the form lib/state reads: 64 hex digits (32 bytes) */
	if (strlen(text) != 2 * STATE_KEY_BYTES ||
	    strspn(text, "0123456789abcdefABCDEF") != 2 * STATE_KEY_BYTES)
		return key_error(r, "STATE_KEY_FILE",
				 "%s does not hold a key: 64 hex digits (32 bytes) expected", path);
	{
		_cleanup_secret_ char *withnl = xasprintf("%s\n", text);
		b64 = base64(withnl);
	}
	entry = xasprintf("%s- path: %s\n"
			  "  owner: root:root\n"
			  "  permissions: \"0600\"\n"
			  "  encoding: b64\n"
			  "  content: %s\n",
			  *files, STATE_KEY_DEST, b64);
	explicit_bzero(b64, strlen(b64));
	free(*files);
	*files = TAKE_PTR(entry);
	config_set(config, "state.encryption.key_file", STATE_KEY_DEST);
	return 0;
}

/* The files the env file names: secrets (mode 0600) and the display's
 * certificate, with the config naming them. */
static int render_secrets(struct render *r, cJSON *config)
{
	static const struct file_spec specs[] = {
	    {"S3_CREDENTIALS_FILE", "/etc/agentbox/s3-credentials",
	     "state.storage.credentials_file", NULL, 1, check_s3_credentials},
	    {"HCLOUD_TOKEN_FILE", "/etc/agentbox/hcloud-token", "provider.hetzner.token_file", NULL,
	     1, check_token},
	    {"REGISTRY_AUTH_FILE", "/etc/agentbox/registry-auth", "workspace.registry_auth_file",
	     NULL, 1, check_text},
	    {"DISPLAY_PASSWORD_FILE", "/etc/agentbox/display-password", "display.password_file",
	     "display-password", 1, check_text},
	    {"DISPLAY_WEB_PASSWORD_FILE", "/etc/agentbox/web-password", "display.web_password_file",
	     "web-password", 1, check_web_password},
	    {"DISPLAY_TLS_KEY_FILE", "/etc/agentbox/display-tls.key", "display.tls_key_file",
	     "display-tls-key", 1, check_key},
	    {"DISPLAY_TLS_CERT_FILE", "/etc/agentbox/display-tls.crt", "display.tls_cert_file",
	     NULL, 0, check_cert},
	};
	_cleanup_free_ char *files = xstrdup(""), *dropin = xstrdup("");
	const char *listen = get(r, "DISPLAY_LISTEN");
	int q;

	static const char *const public_needs[] = {"DISPLAY_WEB_PASSWORD_FILE",
						   "DISPLAY_TLS_CERT_FILE", "DISPLAY_TLS_KEY_FILE"};

	if (listen && !streq(listen, "127.0.0.1") && !streq(listen, "::1"))
		for (size_t i = 0; i < ELEMENTSOF(public_needs); i++)
			if (!get(r, public_needs[i]))
				return key_error(r, public_needs[i],
						 "missing: a screen on %s (DISPLAY_LISTEN) needs "
						 "DISPLAY_WEB_PASSWORD_FILE, DISPLAY_TLS_CERT_FILE and "
						 "DISPLAY_TLS_KEY_FILE",
						 listen);
	for (size_t i = 0; i < ELEMENTSOF(specs); i++)
		if ((q = render_file(r, &specs[i], &files, &dropin, config)) < 0)
			return q;
	if ((q = render_state_key(r, &files, config)) < 0)
		return q;
	if (dropin[0]) {
		/* indented for the literal block of its write_files entry */
		_cleanup_free_ char *body = xstrdup("");
		for (char *line = dropin, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
			char *old = body;
			body = xasprintf("%s    %.*s\n", old, (int)(nl - line), line);
			free(old);
		}
		char *old = files;
		files =
		    xasprintf("%s- path: /etc/systemd/system/agentbox-display.service.d/"
			      "credentials.conf\n"
			      "  owner: root:root\n"
			      "  permissions: \"0644\"\n"
			      "  content: |\n"
			      "    # rendered by agentbox render-user-data: the display's secrets\n"
			      "    [Service]\n"
			      "%s",
			      old, body);
		free(old);
	}
	set_var(r, "SECRET_FILES", VAR_BLOCK, TAKE_PTR(files));
	return 0;
}

/* The config checked as the VM's programs will check it, and written as
 * printable ASCII with spaces for cJSON's tabs (two where they indent;
 * tabs inside strings are escaped). */
static int render_config_json(struct render *r, const cJSON *config)
{
	_cleanup_free_ char *json = cJSON_Print(config), *ascii = NULL, *error = NULL;
	_cleanup_(config_freep) struct config *check = config_new();
	size_t o = 0;
	char *out;
	int bol = 1;

	if (!json)
		abort();
	if (config_load_string(check, json, "the agentbox.json it makes", &error) < 0) {
		free(r->error);
		r->error = xasprintf("%s: %s", r->env_path, error);
		return -EINVAL;
	}
	ascii = json_ascii(json);
	out = xmalloc(strlen(ascii) * 2 + 1);
	for (const char *p = ascii; *p; p++) {
		if (*p == '\t') {
			out[o++] = ' ';
			if (bol)
				out[o++] = ' ';
			continue;
		}
		bol = *p == '\n';
		out[o++] = *p;
	}
	out[o] = '\0';
	set_var(r, "CONFIG_JSON", VAR_BLOCK, out);
	return 0;
}

/* Checks the env file and builds every template variable: each step one
 * concern, the first error recorded in r->error. */
static int render_prepare(struct render *r)
{
	_cleanup_(cJSON_Deletep) cJSON *config = cJSON_CreateObject();
	int q;

	if ((q = render_check_keys(r)) < 0 || (q = render_provider(r)) < 0 ||
	    (q = render_install(r)) < 0 || (q = render_users(r)) < 0 ||
	    (q = render_ssh_keys(r)) < 0 || (q = render_config(r, config)) < 0 ||
	    (q = render_secrets(r, config)) < 0 || (q = render_extra_config(r, config)) < 0 ||
	    (q = render_config_json(r, config)) < 0)
		return q;
	return 0;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = MAX(2 * *cap, *len + n + 1);
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static int name_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* Fills the template (syntax in cloud-init/hetzner.yaml's "##" lines). A
 * template that names an unknown variable is a bug: -EINVAL. */
static int render_template(struct render *r, const char *tmpl, char **ret)
{
	size_t len = 0, cap = 0;
	_cleanup_free_ char *out = NULL;
	unsigned skip = 0, depth = 0, lineno = 0;

	append(&out, &len, &cap, "", 0);
	for (const char *line = tmpl, *next; *line; line = next) {
		const char *nl = strchr(line, '\n'), *t = line;
		size_t n = nl ? (size_t)(nl - line) : strlen(line), indent;

		next = nl ? nl + 1 : line + n;
		lineno++;
		while (*t == ' ')
			t++;
		indent = (size_t)(t - line);
		if (strncmp(line, "##", 2) == 0)
			continue;
		if (strncmp(t, "@if ", 4) == 0) {
			const struct var *v = find_var(r, t + 4, n - indent - 4);
			depth++;
			if (skip || !v || !v->value[0])
				skip++;
			continue;
		}
		if (strncmp(t, "@end", 4) == 0 && n - indent == 4) {
			if (depth == 0)
				goto bad;
			if (skip)
				skip--;
			depth--;
			continue;
		}
		if (skip)
			continue;
		if (strncmp(t, "@@", 2) == 0 && n - indent > 4 &&
		    strncmp(line + n - 2, "@@", 2) == 0) {
			const struct var *v = find_var(r, t + 2, n - indent - 4);
			if (!v || v->kind != VAR_BLOCK)
				goto bad;
			for (const char *b = v->value, *bn; *b; b = bn) {
				const char *e = strchr(b, '\n');
				size_t bl = e ? (size_t)(e - b) : strlen(b);
				bn = e ? e + 1 : b + bl;
				if (bl)
					append(&out, &len, &cap, line, indent);
				append(&out, &len, &cap, b, bl);
				append(&out, &len, &cap, "\n", 1);
			}
			continue;
		}
		for (const char *p = line; p < line + n;) {
			const char *q = p + 1;
			if (*p != '@') {
				append(&out, &len, &cap, p, 1);
				p++;
				continue;
			}
			while (q < line + n && name_char(*q))
				q++;
			if (q < line + n && *q == '@' && q > p + 1) {
				const struct var *v = find_var(r, p + 1, (size_t)(q - p - 1));
				_cleanup_free_ char *quoted = NULL;
				if (!v || v->kind == VAR_BLOCK)
					goto bad;
				if (v->kind == VAR_QUOTED)
					quoted = render_yaml_quote(v->value);
				append(&out, &len, &cap, quoted ? quoted : v->value,
				       strlen(quoted ? quoted : v->value));
				p = q + 1;
			} else {
				append(&out, &len, &cap, p, 1);
				p++;
			}
		}
		append(&out, &len, &cap, "\n", 1);
	}
	if (depth)
		goto bad;
	*ret = TAKE_PTR(out);
	return 0;
bad:
	free(r->error);
	r->error =
	    xasprintf("template line %u: unknown variable or unbalanced @if (a bug)", lineno);
	return -EINVAL;
}

static void help(void)
{
	printf("Usage: agentbox render-user-data [-o FILE] ENV_FILE\n\n"
	       "Prints the cloud-init user-data (cloud-config) that turns a fresh Debian 12 VM\n"
	       "into an agentbox workspace, from ENV_FILE's KEY=VALUE lines (# comments; values\n"
	       "may be quoted; relative paths are relative to ENV_FILE). Secrets are read from\n"
	       "their files (mode 0600) into write_files, never into commands. -o writes FILE\n"
	       "with mode 0600. See docs/quickstart.md.\n\nKeys:\n");
	for (size_t i = 0; i < ELEMENTSOF(keys); i++)
		printf("  %-20s %s\n", keys[i].name, keys[i].meaning);
	printf("\nExit status: 0 ok, 1 cannot write, 2 bad env file (the message names the key\n"
	       "and line).\n");
}

int cli_render_user_data(struct config *c, int argc, char **argv)
{
	static const struct option options[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	_cleanup_(render_done) struct render r = {};
	_cleanup_free_ char *out = NULL, *dir = NULL, *abs = NULL;
	const char *output = NULL;
	int o, q;

	(void)c;
	optind = 0;
	while ((o = getopt_long(argc, argv, "o:h", options, NULL)) >= 0) {
		if (o == 'o')
			output = optarg;
		else if (o == 'h') {
			help();
			return 0;
		} else {
			fprintf(stderr, "Usage: agentbox render-user-data [-o FILE] ENV_FILE\n");
			return EXIT_CONFIG;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "Usage: agentbox render-user-data [-o FILE] ENV_FILE\n");
		return EXIT_CONFIG;
	}
	r.env_path = argv[optind];
	q = envfile_load(r.env_path, &r.env, &r.error);
	if (q < 0) {
		fprintf(stderr, "agentbox render-user-data: %s\n", r.error);
		return EXIT_CONFIG;
	}
	dir = xstrdup(r.env_path);
	abs = realpath(dirname(dir), NULL);
	r.env_dir = abs ? TAKE_PTR(abs) : xstrdup(".");
	q = render_prepare(&r);
	if (q >= 0)
		q = render_template(&r, r.hetzner ? render_tmpl_hetzner : render_tmpl_ec2, &out);
	if (q < 0) {
		fprintf(stderr, "agentbox render-user-data: %s\n", r.error);
		return EXIT_CONFIG;
	}
	/* the clouds refuse larger user-data: EC2 16 KiB (before its base64), Hetzner 32 KiB */
	if (strlen(out) > (r.hetzner ? 32 : 16) * 1024u) {
		fprintf(
		    stderr,
		    "agentbox render-user-data: %s: the user-data would be %zu bytes; %s accepts "
		    "at most %u KiB (a smaller EXTRA_CONFIG or SSH_KEY_FILE?)\n",
		    r.env_path, strlen(out), r.hetzner ? "Hetzner Cloud" : "EC2",
		    r.hetzner ? 32 : 16);
		explicit_bzero(out, strlen(out));
		return EXIT_CONFIG;
	}
	if (!output) {
		fputs(out, stdout);
		q = fflush(stdout) == 0 ? 0 : -errno;
	} else
		q = write_file_atomic(output, out, strlen(out), 0600);
	explicit_bzero(out, strlen(out));
	if (q < 0) {
		fprintf(stderr, "agentbox render-user-data: cannot write %s: %s\n",
			output ? output : "the standard output", strerror(-q));
		return 1;
	}
	return 0;
}
