/* Generations of the workspace state in object storage; see state.h.
 *
 * Order of writes in a backup, each step only after the one before it
 * succeeded: the archive (multipart), HEAD of the archive (size), the
 * manifest, the "latest" pointer, then retention. A backup killed at any
 * point leaves at most an archive without a manifest, which no reader
 * trusts and the next backup deletes. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "repo.h"
#include "s3.h"
#include "state-exclude.h"
#include "state-internal.h"
#include "state.h"
#include "tarball.h"

#define MANIFEST_MAX (1024 * 1024)
#define TORN_RETRIES 3

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete)

void manifest_done(struct manifest *m)
{
	for (char **p = m->paths; p && *p; p++)
		free(*p);
	free(m->paths);
	m->paths = NULL;
}

struct gen_entry {
	char id[STATE_GENERATION_MAX];
	unsigned long seq;
	int has_data, has_manifest, has_tree;
	uint64_t data_size;
};

struct gen_list {
	struct gen_entry *v;
	size_t n;
	const char *prefix; /* "<P>generations/" */
};

/* A client for state.storage with its credentials; logs why not. */
int state_client(const struct config *c, struct s3_client **ret)
{
	_cleanup_free_ char *def = NULL;
	const char *cred = c->state_storage_credentials_file, *why = NULL;
	struct s3_client *s;
	int r;

	if (!c->state_storage_bucket) {
		log_error("No state storage configured (set state.storage.bucket)");
		return -ENOMEDIUM;
	}
	s = s3_client_new(c->state_storage_endpoint, c->state_storage_region,
			  c->state_storage_bucket, c->state_storage_path_style);
	if (!cred) {
		const char *home = getenv("HOME");
		struct passwd *pw = home ? NULL : getpwuid(geteuid());
		def = xasprintf("%s/.aws/credentials", home ? home : pw ? pw->pw_dir : "/root");
		cred = def;
		if (access(def, F_OK) < 0) {
			/* On EC2: the instance profile. $AGENTBOX_IMDS_URL is for tests. */
			r = s3_client_load_imds(s, getenv("AGENTBOX_IMDS_URL"), &why);
			if (r < 0) {
				s3_client_free(s);
				log_error(
				    "No credentials for the state storage: "
				    "state.storage.credentials_file is not set, %s does not exist, "
				    "and %s",
				    def, strempty(why));
				return r;
			}
			*ret = s;
			return 0;
		}
	}
	r = s3_client_load_credentials(s, cred, NULL, &why);
	if (r < 0) {
		s3_client_free(s);
		log_error("state.storage.credentials_file: %s %s", cred, strempty(why));
		return r;
	}
	*ret = s;
	return 0;
}

/* Serialises backups and restores on this machine (the monitor's and a
 * user's): an flock on <runtime_dir>/state.lock, waited for. Returns the fd
 * to close, or -1 when the lock cannot be had (then we go on without). */
static int state_lock(const struct config *c)
{
	_cleanup_free_ char *path = xasprintf("%s/state.lock", c->runtime_dir);
	int fd;

	(void)mkdir_p(c->runtime_dir, 0755);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		log_debug("No lock %s (%s); going on without", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_info("Another backup or restore is running; waiting for it");
		if (flock(fd, LOCK_EX) < 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Is s in the NULL-terminated list v? */
static int strv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (streq(*v, s))
			return 1;
	return 0;
}

/* The key of a generation's archive ("tar.zst") or manifest ("json"). */
static char *gen_key(const struct config *c, const char *id, const char *ext)
{
	return xasprintf("%sgenerations/%s.%s", c->state_storage_prefix, id, ext);
}

/* Generations in sequence order. */
static int gen_cmp(const void *a, const void *b)
{
	const struct gen_entry *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* A generation readers trust: a v2 tree, or a v1 archive with its manifest. */
static int gen_complete(const struct gen_entry *g)
{
	return g->has_tree || (g->has_data && g->has_manifest);
}

/* LIST step: files each archive or manifest key under its generation. */
static int on_list_key(const char *key, uint64_t size, void *userdata)
{
	struct gen_list *l = userdata;
	const char *name = key + strlen(l->prefix), *dash, *dot;
	char id[STATE_GENERATION_MAX];
	int data;
	size_t i;

	if (!startswith(key, l->prefix))
		return 0;
	if ((dot = strstr(name, ".tar.zst")) && streq(dot, ".tar.zst"))
		data = 1;
	else if ((dot = strrchr(name, '.')) && streq(dot, ".tree"))
		data = 2;
	else if ((dot = strrchr(name, '.')) && streq(dot, ".json"))
		data = 0;
	else
		return 0;
	if ((size_t)(dot - name) >= sizeof(id) || dot == name)
		return 0;
	memcpy(id, name, (size_t)(dot - name));
	id[dot - name] = '\0';
	dash = strrchr(id, '-');
	if (!dash)
		return 0;
	for (i = 0; i < l->n; i++)
		if (streq(l->v[i].id, id))
			break;
	if (i == l->n) {
		l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		memset(&l->v[i], 0, sizeof(l->v[i]));
		snprintf(l->v[i].id, sizeof(l->v[i].id), "%s", id);
		l->v[i].seq = strtoul(dash + 1, NULL, 10);
		l->n++;
	}
	if (data == 2)
		l->v[i].has_tree = 1;
	else if (data) {
		l->v[i].has_data = 1;
		l->v[i].data_size = size;
	} else
		l->v[i].has_manifest = 1;
	return 0;
}

/* Every generation under the prefix, oldest first. */
static int list_generations(struct s3_client *s, const struct config *c, struct gen_list *ret)
{
	_cleanup_free_ char *prefix = xasprintf("%sgenerations/", c->state_storage_prefix);
	struct gen_list l = {.prefix = prefix};
	int r;

	r = s3_list(s, prefix, on_list_key, &l);
	if (r < 0) {
		free(l.v);
		return r;
	}
	if (l.n > 0)
		qsort(l.v, l.n, sizeof(*l.v), gen_cmp);
	l.prefix = NULL;
	*ret = l;
	return 0;
}

/* A string member, or NULL. */
static const char *json_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A non-negative number member below 2^64, or 0 (converting a larger
 * double, which a bucket's writer may put there, is undefined). */
static uint64_t json_u64(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 0x1p64
		   ? (uint64_t)v->valuedouble
		   : 0;
}

/* A v2 generation's tree header as a manifest. */

/* Fills m's paths from a JSON array of absolute paths and hands m to *ret;
 * -EBADMSG (m freed) when an entry is not one. */
static int manifest_take_paths(struct manifest *m, const cJSON *paths, struct manifest *ret)
{
	const cJSON *e;
	int i = 0;

	m->paths = xcalloc((size_t)cJSON_GetArraySize(paths) + 1, sizeof(char *));
	cJSON_ArrayForEach(e, paths)
	{
		if (!cJSON_IsString(e) || e->valuestring[0] != '/') {
			manifest_done(m);
			return -EBADMSG;
		}
		m->paths[i++] = xstrdup(e->valuestring);
	}
	*ret = *m;
	return 0;
}

static int read_tree_manifest(struct repo *rp, const char *id, struct manifest *ret)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	struct repo_tree t = {0};
	struct manifest m = {0};
	const cJSON *paths;
	int r;

	r = repo_read_tree(rp, id, &t, &text);
	if (r < 0)
		return r;
	root = cJSON_Parse(t.header);
	repo_tree_done(&t);
	paths = root ? cJSON_GetObjectItemCaseSensitive(root, "paths") : NULL;
	if (!root || !json_str(root, "generation") || !streq(json_str(root, "generation"), id) ||
	    !cJSON_IsArray(paths))
		return -EBADMSG;
	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.tree_digest, sizeof(m.tree_digest), "%s",
		 strempty(json_str(root, "tree_digest")));
	snprintf(m.created, sizeof(m.created), "%s", strempty(json_str(root, "created")));
	snprintf(m.host, sizeof(m.host), "%s", strempty(json_str(root, "host")));
	m.size = json_u64(root, "stored");
	m.files = json_u64(root, "files");
	m.bytes = json_u64(root, "bytes");
	m.v2 = 1;
	m.encrypted = rp->key.encrypted;
	return manifest_take_paths(&m, paths, ret);
}

/* Reads and checks a generation's manifest (v2: its tree; else the v1
 * JSON); -EBADMSG when it is not one for id. */
static int read_manifest(struct s3_client *s, struct repo *rp, const struct config *c,
			 const char *id, struct manifest *ret)
{
	_cleanup_free_ char *key = gen_key(c, id, "json"), *text = NULL;
	int r;

	r = read_tree_manifest(rp, id, ret);
	if (r != -ENOENT)
		return r;
	r = s3_get_buffer(s, key, MANIFEST_MAX, &text, NULL);
	if (r < 0)
		return r;
	return manifest_parse(text, id, ret);
}

int manifest_parse(const char *text, const char *id, struct manifest *ret)
{
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	struct manifest m = {0};
	const cJSON *paths;
	const char *v;

	root = cJSON_Parse(text);
	v = root ? json_str(root, "sha256") : NULL;
	paths = root ? cJSON_GetObjectItemCaseSensitive(root, "paths") : NULL;
	if (!v || strlen(v) != 64 || !cJSON_IsArray(paths) || !json_str(root, "generation") ||
	    !streq(json_str(root, "generation"), id))
		return -EBADMSG;
	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.sha256, sizeof(m.sha256), "%s", v);
	snprintf(m.tree_digest, sizeof(m.tree_digest), "%s",
		 strempty(json_str(root, "tree_digest")));
	snprintf(m.created, sizeof(m.created), "%s", strempty(json_str(root, "created")));
	snprintf(m.host, sizeof(m.host), "%s", strempty(json_str(root, "host")));
	m.size = json_u64(root, "size");
	m.files = json_u64(root, "files");
	m.bytes = json_u64(root, "bytes");
	return manifest_take_paths(&m, paths, ret);
}

/* The id "latest" names; -ENOENT when there is none; repo_open()'s errors
 * when it does not open with our key. */
static int read_latest(struct s3_client *s, struct repo *rp, const struct config *c,
		       char id[STATE_GENERATION_MAX], struct manifest *info)
{
	_cleanup_free_ char *key = xasprintf("%slatest", c->state_storage_prefix), *obj = NULL,
			    *text = NULL;
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	size_t size = 0;
	const char *v;
	int r;

	r = s3_get_buffer(s, key, 4096, &obj, &size);
	if (r < 0)
		return r;
	r = repo_latest_open(rp, obj, size, &text);
	if (r < 0)
		return r;
	root = cJSON_Parse(text);
	v = root ? json_str(root, "generation") : NULL;
	if (!v || !*v || strlen(v) >= STATE_GENERATION_MAX || strchr(v, '/'))
		return -EBADMSG;
	snprintf(id, STATE_GENERATION_MAX, "%s", v);
	/* a v2 pointer carries what the skip check needs: no tree to read */
	if (info && json_str(root, "tree_digest")) {
		memset(info, 0, sizeof(*info));
		snprintf(info->id, sizeof(info->id), "%s", v);
		snprintf(info->tree_digest, sizeof(info->tree_digest), "%s",
			 json_str(root, "tree_digest"));
		info->files = json_u64(root, "files");
		info->bytes = json_u64(root, "bytes");
		info->size = json_u64(root, "stored");
		info->v2 = 1;
	}
	return 0;
}

/* This VM: $AGENTBOX_INSTANCE_ID, cloud-init's instance id, or the host name. */
static void instance_name(char *buf, size_t size)
{
	_cleanup_free_ char *id = NULL;
	const char *env = getenv("AGENTBOX_INSTANCE_ID");

	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return;
	}
	if (read_file("/var/lib/cloud/data/instance-id", 256, &id, NULL) >= 0) {
		id[strcspn(id, "\r\n")] = '\0';
		if (*id) {
			snprintf(buf, size, "%s", id);
			return;
		}
	}
	if (gethostname(buf, size) < 0)
		snprintf(buf, size, "unknown");
	buf[size - 1] = '\0';
}

/* Deletes generations beyond state.keep and leftovers of killed backups,
 * all older than newest (just written), then the packs no kept v2
 * generation uses (repo_prune()). */
static void apply_retention(struct s3_client *s, struct repo *rp, const struct config *c,
			    const char *newest)
{
	struct gen_list l = {0};
	size_t kept = 0, n_keep = 0;
	unsigned long newest_seq = 0;
	_cleanup_free_ char **keep = NULL;
	int pruned = 0;

	if (list_generations(s, c, &l) < 0) {
		log_warning("%s; retention skipped, ignoring", s3_last_error(s));
		return;
	}
	keep = xcalloc(l.n + 1, sizeof(char *));
	for (size_t i = 0; i < l.n; i++)
		if (streq(l.v[i].id, newest))
			newest_seq = l.v[i].seq;
	for (size_t i = l.n; i-- > 0;) {
		struct gen_entry *g = &l.v[i];
		int drop;

		if (g->seq >= newest_seq)
			drop = 0;
		else if (gen_complete(g))
			drop = kept >= (size_t)c->state_keep;
		else
			drop = 1; /* an incomplete leftover, older than a verified one */
		if (gen_complete(g) && !drop)
			kept++;
		if (g->has_tree && !drop)
			keep[n_keep++] = g->id;
		if (streq(g->id, newest)) {
			kept = kept ? kept : 1;
			continue;
		}
		if (!drop)
			continue;
		/* the manifest or tree first: from then on, no reader trusts the rest */
		{
			_cleanup_free_ char *mk = gen_key(c, g->id, "json"),
					    *dk = gen_key(c, g->id, "tar.zst"),
					    *tk = gen_key(c, g->id, "tree");
			if ((g->has_tree && s3_delete(s, tk) < 0) ||
			    (g->has_manifest && s3_delete(s, mk) < 0) ||
			    (g->has_data && s3_delete(s, dk) < 0))
				log_warning("%s, ignoring", s3_last_error(s));
			else {
				log_info("Deleted old generation %s", g->id);
				pruned = pruned || g->has_tree;
			}
		}
	}
	/* packs are swept when a v2 generation went (then leftovers of killed
	 * backups go too) */
	if (pruned && n_keep > 0)
		(void)repo_prune(rp, keep, n_keep);
	free(l.v);
}

/* ---- the lease: one VM on a state at a time ---- */

struct lease {
	int exists;
	char instance[128];
	char host[128];
	time_t expires;
	char etag[80];
};

/* The key of the lease. */
static char *lease_key(const struct config *c)
{
	return xasprintf("%slease.json", c->state_storage_prefix);
}

/* Reads the lease with its ETag; exists = 0 when there is none. */
static int lease_read(struct s3_client *s, const struct config *c, struct lease *ret)
{
	_cleanup_free_ char *key = lease_key(c), *text = NULL;
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	struct lease l = {0};
	int r;

	r = s3_get_buffer_etag(s, key, 64 * 1024, &text, NULL, l.etag);
	if (r == -ENOENT) {
		*ret = l;
		return 0;
	}
	if (r < 0)
		return r;
	l.exists = 1;
	root = cJSON_Parse(text);
	snprintf(l.instance, sizeof(l.instance), "%s",
		 root ? strempty(json_str(root, "instance")) : "");
	snprintf(l.host, sizeof(l.host), "%s", root ? strempty(json_str(root, "host")) : "");
	l.expires = root ? (time_t)json_u64(root, "expires") : 0;
	*ret = l;
	return 0;
}

/* Takes or renews the lease for this VM. Refuses with -EBUSY while another
 * VM holds a fresh one, unless take_over. The write is conditional on what
 * was read (If-Match / If-None-Match), so two VMs cannot both win. */
static int lease_take(struct s3_client *s, const struct config *c, int take_over, const char *what)
{
	_cleanup_free_ char *key = lease_key(c), *json = NULL;
	char me[128], host[128], until[FORMAT_UTC_MAX];
	struct lease l;
	time_t now = time(NULL);
	cJSON *root;
	int r;

	instance_name(me, sizeof(me));
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	r = lease_read(s, c, &l);
	if (r < 0)
		return log_error_errno(r, "%s", s3_last_error(s));
	if (l.exists && !streq(l.instance, me)) {
		format_utc(until, sizeof(until), l.expires);
		if (l.expires > now && !take_over) {
			log_event(
			    LOG_ERR, MSGID_LEASE, LOG_FIELDS({"AGENTBOX_LEASE_HOLDER", l.instance}),
			    1,
			    "The state in s3://%s/%s is held by instance %s (%s) until %s; not "
			    "going to %s. If that VM is gone, use --take-over.",
			    c->state_storage_bucket, c->state_storage_prefix, l.instance, l.host,
			    until, what);
			return -EBUSY;
		}
		log_event(LOG_WARNING, MSGID_LEASE,
			  LOG_FIELDS({"AGENTBOX_LEASE_HOLDER", l.instance}), 1,
			  "Taking the state over from instance %s (%s), whose lease %s %s",
			  l.instance, l.host, l.expires > now ? "runs until" : "expired at", until);
	}
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "instance", me);
	cJSON_AddStringToObject(root, "host", host);
	cJSON_AddNumberToObject(root, "renewed", (double)now);
	cJSON_AddNumberToObject(root, "expires",
				(double)(now + (time_t)(c->state_lease_ttl / USEC_PER_SEC)));
	cJSON_AddStringToObject(root, "agentbox_version", AGENTBOX_VERSION);
	json = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	r = s3_put_if(s, key, json, strlen(json), "application/json",
		      l.exists && *l.etag ? l.etag : NULL, l.exists ? NULL : "*");
	if (r == -EEXIST) {
		log_event(LOG_ERR, MSGID_LEASE, NULL, 0,
			  "Another VM changed the lease s3://%s/%s meanwhile; not going to %s",
			  c->state_storage_bucket, key, what);
		return -EBUSY;
	}
	if (r < 0)
		return log_error_errno(r, "%s", s3_last_error(s));
	return 0;
}

int state_lease_renew(const struct config *c)
{
	_cleanup_(s3_client_freep) struct s3_client *s = NULL;
	int r = state_client(c, &s);

	return r < 0 ? r : lease_take(s, c, 0, "renew the lease");
}

int state_lease_release(const struct config *c)
{
	_cleanup_(s3_client_freep) struct s3_client *s = NULL;
	_cleanup_free_ char *key = lease_key(c);
	struct lease l;
	char me[128];
	int r;

	r = state_client(c, &s);
	if (r < 0)
		return r;
	instance_name(me, sizeof(me));
	r = lease_read(s, c, &l);
	if (r < 0)
		return log_error_errno(r, "%s", s3_last_error(s));
	if (!l.exists || !streq(l.instance, me))
		return 0; /* not ours: nothing to give back */
	r = s3_delete(s, key);
	if (r < 0)
		return log_error_errno(r, "%s", s3_last_error(s));
	log_event(LOG_INFO, MSGID_LEASE, NULL, 0, "Released the lease on s3://%s/%s",
		  c->state_storage_bucket, c->state_storage_prefix);
	return 0;
}

int state_backup_full(const struct config *c, int force, struct state_backup_result *ret)
{
	_cleanup_(s3_client_freep) struct s3_client *s = NULL;
	_cleanup_free_ char *latest_key = NULL, *bad = NULL;
	_cleanup_free_ void *latest_obj = NULL;
	struct state_backup_result res = {0};
	struct manifest latest = {0};
	struct tarball_stats tree;
	struct repo_stats st = {0};
	struct gen_list l = {0};
	struct repo rp = {0};
	char latest_id[STATE_GENERATION_MAX] = "", stamp[32];
	usec_t start = now_usec(CLOCK_MONOTONIC);
	unsigned long seq = 0;
	size_t latest_size = 0;
	time_t t;
	struct tm tm;
	int r, have_latest = 0;
	_cleanup_(state_exclude_freep) struct state_exclude *exclude = NULL;
	_cleanup_close_ int lock = state_lock(c);

	r = state_client(c, &s);
	if (r < 0)
		return r;
	r = repo_init(&rp, s, c, state_client);
	if (r < 0)
		goto done;
	r = lease_take(s, c, 0, "back up");
	if (r < 0) {
		log_event(LOG_ERR, MSGID_BACKUP_FAILED, NULL, 0,
			  r == -EBUSY ? "Backup refused: no lease"
				      : "Backup failed: the lease could not be read or written");
		goto done;
	}

	r = read_latest(s, &rp, c, latest_id, &latest);
	if (r >= 0 && (latest.v2 || read_manifest(s, &rp, c, latest_id, &latest) >= 0))
		have_latest = 1;
	else if (r == -EPERM)
		log_notice("The bucket's latest generation is not encrypted; this backup is the "
			   "first one encrypted with state.encryption.key_file");
	else if (r == -ENOKEY || r == -EKEYREJECTED) {
		log_event(LOG_ERR, MSGID_BACKUP_FAILED, NULL, 0,
			  "Backup refused: s3://%s/%slatest %s", c->state_storage_bucket,
			  c->state_storage_prefix, repo_open_strerror(r));
		goto done;
	} else if (r < 0 && r != -ENOENT && r != -EBADMSG) {
		log_event(LOG_ERR, MSGID_BACKUP_FAILED, NULL, 0, "Backup failed: %s",
			  s3_last_error(s));
		goto done;
	}
	exclude = state_exclude_new(c->state_exclude, c->state_exclude_defaults);
	r = tarball_tree_digest(c->state_paths, exclude, &tree, &bad);
	if (r < 0) {
		log_error_errno(r, "Cannot walk the state paths: %s: %m", strempty(bad));
		goto done;
	}
	if (!force && have_latest && latest.v2 && streq(tree.tree_digest, latest.tree_digest)) {
		res.skipped = 1;
		snprintf(res.generation, sizeof(res.generation), "%s", latest.id);
		res.size = latest.size;
		res.files = latest.files;
		res.bytes = latest.bytes;
		res.duration = now_usec(CLOCK_MONOTONIC) - start;
		log_event(LOG_INFO, MSGID_BACKUP_SKIPPED,
			  LOG_FIELDS({"AGENTBOX_GENERATION", res.generation}), 1,
			  "Backup skipped: nothing changed since generation %s", res.generation);
		*ret = res;
		r = 0;
		goto done;
	}

	r = list_generations(s, c, &l);
	if (r < 0) {
		log_event(LOG_ERR, MSGID_BACKUP_FAILED, NULL, 0, "Backup failed: %s",
			  s3_last_error(s));
		goto done;
	}
	for (size_t i = 0; i < l.n; i++)
		seq = MAX(seq, l.v[i].seq);
	free(l.v);
	t = time(NULL);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(res.generation, sizeof(res.generation), "%s-%06lu", stamp, seq + 1);

	for (int attempt = 1;; attempt++) {
		free(bad);
		bad = NULL;
		r = repo_backup(&rp, res.generation, tree.tree_digest, &st, &bad);
		if (r != -EAGAIN || attempt >= TORN_RETRIES)
			break;
		log_warning("%s changed while it was archived", strempty(bad));
		log_info("Retrying the backup (%d of %d)", attempt, TORN_RETRIES - 1);
		/* the digest in the tree is of what the retry will find */
		(void)tarball_tree_digest(c->state_paths, exclude, &tree, NULL);
	}
	if (r >= 0) {
		latest_key = xasprintf("%slatest", c->state_storage_prefix);
		repo_latest_seal(&rp, res.generation, tree.tree_digest, &st, &latest_obj, &latest_size);
		r = s3_put(s, latest_key, latest_obj, latest_size, "application/json");
		if (r < 0)
			log_error("%s", s3_last_error(s));
	} else if (r == -EAGAIN)
		log_warning("%s changed while it was archived", strempty(bad));
	else if (r != -EIO || !bad)
		log_error_errno(r, "Backup of %s failed: %m", bad ? bad : "the state");
	if (r < 0) {
		log_event(LOG_ERR, MSGID_BACKUP_FAILED,
			  LOG_FIELDS({"AGENTBOX_GENERATION", res.generation}), 1,
			  "Backup %s failed%s", res.generation,
			  r == -EAGAIN ? ": files kept changing while they were read" : "");
		goto done;
	}
	res.size = st.stored;
	res.uploaded = st.uploaded;
	res.files = st.files;
	res.bytes = st.bytes;
	res.duration = now_usec(CLOCK_MONOTONIC) - start;
	{
		char sz[32], dur[FORMAT_DURATION_MAX];
		snprintf(sz, sizeof(sz), "%" PRIu64, st.uploaded);
		log_event(LOG_NOTICE, MSGID_BACKUP_DONE,
			  LOG_FIELDS({"AGENTBOX_GENERATION", res.generation},
				     {"AGENTBOX_BACKUP_SIZE", sz}),
			  2,
			  "Backed up %" PRIu64 " files (%" PRIu64
			  " bytes) as generation %s, %" PRIu64 " bytes stored, %" PRIu64
			  " bytes uploaded (%" PRIu64 " of %" PRIu64 " chunks new), in %s",
			  st.files, st.bytes, res.generation, st.stored, st.uploaded,
			  st.chunks_new, st.chunks,
			  format_duration_exact(dur, sizeof(dur), res.duration));
	}
	apply_retention(s, &rp, c, res.generation);
	*ret = res;
	r = 0;
done:
	manifest_done(&latest);
	repo_done(&rp);
	return r;
}

int state_backup(const struct config *c, struct state_backup_result *ret)
{
	return state_backup_full(c, 0, ret);
}

int state_list(const struct config *c, struct state_generation **ret, size_t *ret_n)
{
	_cleanup_(s3_client_freep) struct s3_client *s = NULL;
	struct gen_list l = {0};
	char latest_id[STATE_GENERATION_MAX] = "";
	struct state_generation *v;
	struct repo rp = {0};
	int r;

	r = state_client(c, &s);
	if (r < 0)
		return r;
	r = repo_init(&rp, s, c, state_client);
	if (r < 0)
		return r;
	r = list_generations(s, c, &l);
	if (r < 0) {
		repo_done(&rp);
		return log_error_errno(r, "%s", s3_last_error(s));
	}
	(void)read_latest(s, &rp, c, latest_id, NULL);
	v = xcalloc(l.n + 1, sizeof(*v));
	for (size_t i = 0; i < l.n; i++) {
		struct manifest m = {0};

		snprintf(v[i].id, sizeof(v[i].id), "%s", l.v[i].id);
		v[i].size = l.v[i].data_size;
		v[i].latest = streq(l.v[i].id, latest_id);
		if (gen_complete(&l.v[i]) && read_manifest(s, &rp, c, l.v[i].id, &m) >= 0) {
			v[i].valid = m.v2 || m.size == l.v[i].data_size;
			if (m.v2)
				v[i].size = m.size;
			v[i].files = m.files;
			v[i].bytes = m.bytes;
			snprintf(v[i].sha256, sizeof(v[i].sha256), "%s", m.sha256);
			snprintf(v[i].created, sizeof(v[i].created), "%s", m.created);
			snprintf(v[i].host, sizeof(v[i].host), "%s", m.host);
			manifest_done(&m);
		}
	}
	*ret = v;
	*ret_n = l.n;
	free(l.v);
	repo_done(&rp);
	return 0;
}

/* ---- verify ---- */

struct hash_sink {
	struct sha256_ctx *h;
	uint64_t size;
};

/* Download consumer of state_verify(): hashes, keeps nothing. */
static int hash_write(const void *data, size_t size, void *userdata)
{
	struct hash_sink *k = userdata;

	sha256_update(k->h, data, size);
	k->size += size;
	return 0;
}

/* state_verify() with its message in why. */
static int state_verify_one(const struct config *c, const char *generation, char *why,
			    size_t why_size)
{
	_cleanup_(s3_client_freep) struct s3_client *s = NULL;
	_cleanup_free_ char *key = NULL;
	char id[STATE_GENERATION_MAX], sha[65] = "";
	struct manifest m = {0};
	struct hash_sink k = {0};
	_cleanup_(repo_donep) struct repo rp = {0};
	int r;

	r = state_client(c, &s);
	if (r < 0) {
		snprintf(why, why_size, "no client for the state storage");
		return r;
	}
	r = repo_init(&rp, s, c, state_client);
	if (r < 0) {
		snprintf(why, why_size, "state.encryption.key_file cannot be used");
		return r;
	}
	if (generation)
		snprintf(id, sizeof(id), "%s", generation);
	else if ((r = read_latest(s, &rp, c, id, NULL)) < 0) {
		snprintf(why, why_size, "%s",
			 r == -EBADMSG	? "\"latest\" is not readable"
			 : r == -ENOENT ? s3_last_error(s)
					: repo_open_strerror(r));
		return log_error_errno(r, "Cannot verify the latest generation: %s", why);
	}
	r = read_manifest(s, &rp, c, id, &m);
	if (r < 0) {
		snprintf(why, why_size, "manifest of generation %s: %s", id,
			 r == -EBADMSG ? "not a valid manifest"
			 : r == -ENOENT || r == -EIO || r == -EACCES ? s3_last_error(s)
								    : repo_open_strerror(r));
		return log_error_errno(r, "Cannot verify: %s", why);
	}
	if (m.v2) {
		struct repo_stats st = {0};
		for (int attempt = 1; attempt <= 2; attempt++) {
			_cleanup_free_ char *error = NULL;
			r = repo_restore(&rp, id, NULL, c->state_paths, NULL, &st, &error);
			if (r >= 0)
				break;
			snprintf(why, why_size, "generation %s: %s", id, strempty(error));
			if (attempt == 1)
				log_warning("%s; reading it once more", why);
			repo_index_done(&rp.index);
			rp.index_loaded = 0;
		}
		manifest_done(&m);
		if (r < 0)
			return log_error_errno(r, "Verification of generation %s failed: %s", id,
					       why);
		log_info("Generation %s read back: %" PRIu64 " files, %" PRIu64
			 " chunks authenticated (%" PRIu64 " bytes read)",
			 id, st.files, st.chunks, st.uploaded);
		return 0;
	}
	key = gen_key(c, id, "tar.zst");
	for (int attempt = 1; attempt <= 2; attempt++) {
		k.h = sha256_new();
		k.size = 0;
		r = s3_get(s, key, hash_write, &k, NULL);
		sha256_finish_hex(k.h, sha);
		if (r < 0) {
			snprintf(why, why_size, "%s", s3_last_error(s));
			break;
		}
		if (k.size == m.size && streq(sha, m.sha256))
			break;
		r = -EBADMSG;
		snprintf(why, why_size,
			 "generation %s reads back as %" PRIu64
			 " bytes with SHA-256 %s, but %" PRIu64
			 " bytes with SHA-256 %s were stored",
			 id, k.size, sha, m.size, m.sha256);
		if (attempt == 1)
			log_warning("%s; reading it once more", why);
	}
	manifest_done(&m);
	if (r < 0)
		return log_error_errno(r, "Verification of generation %s failed: %s", id, why);
	log_info("Generation %s read back: %" PRIu64 " bytes, SHA-256 as stored", id, k.size);
	return 0;
}

int state_verify(const struct config *c, const char *generation, char *why, size_t why_size)
{
	char msg[512] = "";
	int r;

	r = state_verify_one(c, generation, msg, sizeof(msg));
	if (why && why_size > 0)
		snprintf(why, why_size, "%s", r < 0 ? msg : "");
	return r;
}

/* ---- restore ---- */

struct download {
	struct s3_client *s;
	const char *key;
	int fd;
	struct sha256_ctx *h;
	uint64_t size;
	int r;
};

/* Download consumer: hashes the bytes and passes them to the extractor. */
static int download_write(const void *data, size_t size, void *userdata)
{
	struct download *d = userdata;
	const char *p = data;

	sha256_update(d->h, data, size);
	d->size += size;
	while (size > 0) {
		ssize_t n = send(d->fd, p, size, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		size -= (size_t)n;
	}
	return 0;
}

/* Downloads the archive into the socket; closes our end when done. */
static void *download_thread(void *userdata)
{
	struct download *d = userdata;

	d->r = s3_get(d->s, d->key, download_write, d, NULL);
	shutdown(d->fd, SHUT_WR);
	return NULL;
}

struct swap {
	char *src, *dst;
	int exchanged; /* 1: exchanged with an existing dst; 0: moved */
};

/* Swaps staging/<path> in for each path; undoes all on a failure. */
static int swap_in(const char *staging, char *const *paths)
{
	size_t n = 0;
	struct swap *done;
	int r = 0;

	for (char *const *p = paths; *p; p++)
		n++;
	done = xcalloc(n + 1, sizeof(*done));
	n = 0;
	for (char *const *p = paths; *p; p++) {
		_cleanup_free_ char *src = xasprintf("%s%s", staging, *p);
		struct stat st;

		if (lstat(src, &st) < 0)
			continue; /* not in the backup: leave the local one alone */
		if (lstat(*p, &st) == 0) {
			if (renameat2(AT_FDCWD, src, AT_FDCWD, *p, RENAME_EXCHANGE) < 0) {
				r = log_error_errno(errno, "Cannot swap %s in: %m", *p);
				break;
			}
			done[n].exchanged = 1;
		} else if (rename(src, *p) < 0) {
			r = log_error_errno(errno, "Cannot move %s in: %m", *p);
			break;
		}
		done[n].src = TAKE_PTR(src);
		done[n].dst = xstrdup(*p);
		n++;
	}
	if (r < 0)
		for (size_t i = n; i-- > 0;) {
			if (done[i].exchanged)
				renameat2(AT_FDCWD, done[i].src, AT_FDCWD, done[i].dst,
					  RENAME_EXCHANGE);
			else
				rename(done[i].dst, done[i].src);
		}
	for (size_t i = 0; i < n; i++) {
		free(done[i].src);
		free(done[i].dst);
	}
	free(done);
	return r;
}

/* Who restored files belong to (root restores only): the workspace user
 * with its groups; where no such user exists (a test, an odd image), the
 * owner of workspace.home, else the caller. *ret_groups is freed by the
 * caller. */
static void restore_owner(const struct config *c, struct tarball_owner *ret, gid_t **ret_groups)
{
	struct passwd *pw = getpwnam(c->workspace_user);
	struct stat st;
	int n = 16;
	gid_t *g;

	*ret_groups = NULL;
	if (!pw) {
		if (stat(c->workspace_home, &st) < 0) {
			st.st_uid = geteuid();
			st.st_gid = getegid();
		}
		*ret = (struct tarball_owner){.uid = st.st_uid, .gid = st.st_gid};
		log_debug("No user %s here: restored files belong to %u:%u (the owner of %s)",
			  c->workspace_user, (unsigned)st.st_uid, (unsigned)st.st_gid,
			  c->workspace_home);
		return;
	}
	*ret = (struct tarball_owner){.uid = pw->pw_uid, .gid = pw->pw_gid};
	g = xcalloc((size_t)n, sizeof(gid_t));
	if (getgrouplist(pw->pw_name, pw->pw_gid, g, &n) < 0) {
		g = xrealloc(g, (size_t)n * sizeof(gid_t));
		if (getgrouplist(pw->pw_name, pw->pw_gid, g, &n) < 0)
			n = 0;
	}
	ret->groups = g;
	ret->n_groups = (size_t)MAX(n, 0);
	*ret_groups = g;
}

/* Picks the generation to restore: the one asked for, else "latest",
 * else (with a warning) the newest complete one. */
static int pick_generation(struct s3_client *s, struct repo *rp, const struct config *c,
			   const char *want,
			   char id[STATE_GENERATION_MAX])
{
	struct gen_list l = {0};
	char latest[STATE_GENERATION_MAX] = "";
	int r, found = 0;

	r = list_generations(s, c, &l);
	if (r < 0)
		return log_error_errno(r, "%s", s3_last_error(s));
	if (want) {
		for (size_t i = 0; i < l.n && !found; i++)
			found = streq(l.v[i].id, want) && gen_complete(&l.v[i]);
		free(l.v);
		if (!found)
			return log_error_errno(
			    ENOENT, "No complete generation %s in s3://%s/%sgenerations/", want,
			    c->state_storage_bucket, c->state_storage_prefix);
		snprintf(id, STATE_GENERATION_MAX, "%s", want);
		return 0;
	}
	if (read_latest(s, rp, c, latest, NULL) >= 0)
		for (size_t i = 0; i < l.n && !found; i++)
			found = streq(l.v[i].id, latest) && gen_complete(&l.v[i]);
	if (found)
		snprintf(id, STATE_GENERATION_MAX, "%s", latest);
	else
		for (size_t i = l.n; i-- > 0 && !found;)
			if (gen_complete(&l.v[i])) {
				found = 1;
				snprintf(id, STATE_GENERATION_MAX, "%s", l.v[i].id);
				if (*latest)
					log_warning(
					    "latest names %s, which is not complete; using %s",
					    latest, id);
			}
	free(l.v);
	if (!found)
		return log_error_errno(ENOENT, "No generation in s3://%s/%s",
				       c->state_storage_bucket, c->state_storage_prefix);
	return 0;
}

int state_restore(const struct config *c, const char *generation, struct state_restore_result *ret)
{
	return state_restore_full(c, generation, 0, ret);
}

int state_restore_full(const struct config *c, const char *generation, int take_over,
		       struct state_restore_result *ret)
{
	_cleanup_(s3_client_freep) struct s3_client *s = NULL;
	_cleanup_free_ char *data_key = NULL, *parent = NULL, *staging = NULL, *error = NULL,
			    *tmp = NULL;
	struct state_restore_result res = {0};
	struct manifest m = {0};
	struct s3_object_info info;
	struct tarball_stats st = {0};
	struct tarball_owner owner = {0};
	_cleanup_free_ gid_t *groups = NULL;
	struct download d = {0};
	struct stat sst;
	pthread_t th;
	char id[STATE_GENERATION_MAX], sha[65];
	usec_t start = now_usec(CLOCK_MONOTONIC);
	int sv[2] = {-1, -1}, r, k;
	_cleanup_(repo_donep) struct repo rp = {0};
	struct repo_stats rs = {0};
	_cleanup_close_ int lock = state_lock(c);

	r = state_client(c, &s);
	if (r < 0)
		return r;
	/* the key first: a missing or unusable key touches nothing */
	r = repo_init(&rp, s, c, state_client);
	if (r < 0)
		goto fail;
	r = lease_take(s, c, take_over, "restore");
	if (r < 0)
		goto fail;
	r = pick_generation(s, &rp, c, generation, id);
	if (r < 0)
		goto fail;
	r = read_manifest(s, &rp, c, id, &m);
	if (r < 0) {
		log_error("Manifest of generation %s: %s", id,
			  r == -EBADMSG ? "not a valid manifest"
			  : r == -ENOKEY || r == -EKEYREJECTED || r == -EPERM
			      ? repo_open_strerror(r)
			      : s3_last_error(s));
		goto fail;
	}
	if (!m.v2 && rp.key.encrypted) {
		/* a bucket writer must not be able to downgrade us to plain data */
		log_error("Generation %s is in the old, unencrypted layout, but "
			  "state.encryption.key_file is set; refusing it (back up once with the "
			  "key from the VM that holds the state, see docs/state.md)",
			  id);
		r = -EPERM;
		goto fail;
	}
	data_key = gen_key(c, id, "tar.zst");
	if (m.v2)
		goto staging;
	r = s3_head(s, data_key, &info);
	if (r < 0) {
		log_error("%s", s3_last_error(s));
		goto fail;
	}
	if (info.size != m.size) {
		log_error("Generation %s: the manifest does not match its object (%" PRIu64
			  " bytes stored, %" PRIu64 " in the manifest); refusing it",
			  id, info.size, m.size);
		r = -EBADMSG;
		goto fail;
	}

staging:
	/* Only the configured state paths are ever written, whatever the
	 * manifest says: a bucket must not be able to name /etc. */
	for (char **p = m.paths; *p; p++)
		if (!strv_contains(c->state_paths, *p))
			log_warning(
			    "Generation %s holds %s, which is not in state.paths; it is not "
			    "restored",
			    id, *p);
	if (!c->state_paths || !c->state_paths[0]) {
		r = log_error_errno(EINVAL, "state.paths is empty");
		goto fail;
	}

	/* Staging beside the first state path, so the swap is a rename. */
	tmp = xstrdup(c->state_paths[0]);
	parent = xstrdup(dirname(tmp));
	r = mkdir_p(parent, 0755);
	if (r < 0) {
		log_error_errno(r, "Cannot create %s: %m", parent);
		goto fail;
	}
	staging = xasprintf("%s/.agentbox-restore-XXXXXX", parent);
	if (!mkdtemp(staging)) {
		r = log_error_errno(errno, "Cannot create a staging directory in %s: %m", parent);
		free(staging);
		staging = NULL;
		goto fail;
	}
	if (stat(staging, &sst) < 0) {
		r = log_error_errno(errno, "Cannot stat %s: %m", staging);
		goto fail;
	}
	for (char **p = c->state_paths; *p; p++) {
		_cleanup_free_ char *t = xstrdup(*p);
		const char *dir = dirname(t);
		struct stat pst;

		r = mkdir_p(dir, 0755);
		if (r >= 0 && stat(dir, &pst) < 0)
			r = -errno;
		if (r < 0) {
			log_error_errno(r, "Cannot create %s: %m", dir);
			goto fail;
		}
		if (pst.st_dev != sst.st_dev) {
			log_error("State path %s is on another file system than %s; cannot swap it "
				  "in atomically",
				  *p, staging);
			r = -EXDEV;
			goto fail;
		}
	}

	if (m.v2) {
		if (geteuid() == 0)
			restore_owner(c, &owner, &groups);
		r = repo_restore(&rp, id, staging, c->state_paths, geteuid() == 0 ? &owner : NULL,
				 &rs, &error);
		if (r < 0) {
			log_error("Restore of generation %s refused: %s", id, strempty(error));
			goto fail;
		}
		st.files = rs.files;
		goto swap;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = log_error_errno(errno, "socketpair: %m");
		goto fail;
	}
	d.s = s;
	d.key = data_key;
	d.fd = sv[1];
	d.h = sha256_new();
	r = -pthread_create(&th, NULL, download_thread, &d);
	if (r < 0) {
		sha256_finish_hex(d.h, sha);
		log_error_errno(r, "Cannot start the download: %m");
		goto fail;
	}
	if (geteuid() == 0)
		restore_owner(c, &owner, &groups);
	k = tarball_extract_fd(sv[0], staging, c->state_paths, geteuid() == 0 ? &owner : NULL, &st,
			       &error);
	if (k >= 0) {
		/* the rest of the stream (zstd's end) still counts for the hash */
		char buf[65536];
		while (read(sv[0], buf, sizeof(buf)) > 0)
			;
	}
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(th, NULL);
	sha256_finish_hex(d.h, sha);
	if (d.r < 0 && d.r != -EPIPE) {
		log_error("Restore of generation %s failed: %s", id, s3_last_error(s));
		r = d.r;
		goto fail;
	}
	if (k < 0) {
		log_error("Restore of generation %s refused: %s", id, strempty(error));
		r = k;
		goto fail;
	}
	if (d.size != m.size || !streq(sha, m.sha256)) {
		log_error("Generation %s: downloaded %" PRIu64
			  " bytes with SHA-256 %s, the manifest "
			  "says %" PRIu64 " bytes, %s; refusing it",
			  id, d.size, sha, m.size, m.sha256);
		r = -EBADMSG;
		goto fail;
	}
swap:
	r = swap_in(staging, c->state_paths);
	if (r < 0)
		goto fail;
	k = rm_rf(staging);
	if (k < 0)
		log_warning_errno(k, "Cannot remove the old state in %s, ignoring: %m", staging);
	snprintf(res.generation, sizeof(res.generation), "%s", id);
	res.size = m.size;
	res.files = st.files;
	res.duration = now_usec(CLOCK_MONOTONIC) - start;
	log_event(LOG_NOTICE, MSGID_RESTORE_DONE, LOG_FIELDS({"AGENTBOX_GENERATION", id}), 1,
		  "Restored generation %s: %" PRIu64 " files", id, st.files);
	*ret = res;
	r = 0;
	goto out;
fail:
	if (staging && (k = rm_rf(staging)) < 0)
		log_error_errno(k, "Cannot remove the staging directory %s: %m; remove it by hand",
				staging);
	log_event(LOG_ERR, MSGID_RESTORE_FAILED, NULL, 0,
		  "Restore failed; the local state is unchanged");
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	manifest_done(&m);
	return r;
}
