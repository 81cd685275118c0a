/* What a backup leaves out; see state-exclude.h and docs/state.md.
 *
 * .agentboxignore grammar (a subset of gitignore(5)), one pattern a line:
 *   blank lines and lines starting with '#' are ignored; trailing blanks
 *   are removed; a leading '\' makes a leading '#' or '!' literal;
 *   "!" before a pattern keeps what it matches (what an earlier line or
 *   the defaults left out; not below an excluded directory, which is
 *   never walked);
 *   a trailing '/' matches directories only;
 *   a pattern with a '/' at its start or middle is anchored at the
 *   directory of the ignore file and matched against the path below it;
 *   one without matches the last component at any depth;
 *   '*', '?' and "[...]" as fnmatch(3), never crossing '/'; "**" as a
 *   whole component matches any number of components ("**" at the end:
 *   one or more, i.e. everything inside).
 * Not supported: "\ " escapes of trailing blanks, $GIT_DIR/info/exclude,
 * core.excludesFile. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "state-exclude.h"

#define CACHEDIR_TAG "CACHEDIR.TAG"
/* https://bford.info/cachedir/: the file must begin with this. */
#define CACHEDIR_SIGNATURE "Signature: 8a477f597d28d172789f06886806bc55"
#define MAX_COMPONENTS 512
#define MAX_STARS 16

struct rule {
	char *pattern; /* without "!", trailing '/' and a leading '/' */
	int negate, dir_only, anchored;
	unsigned stars;
};

/* One directory on the walk's current path and its ignore file's rules. */
struct frame {
	char *dir;
	size_t dir_len;
	struct rule *rules;
	size_t n_rules;
};

struct state_exclude {
	char *const *globs;
	int defaults;
	struct frame *frames;
	size_t n_frames, cap_frames;
};

/* Rebuildable: what a package manager or a build makes again. Directories
 * unless marked; "build", "dist" and "out" are not here, as they are often
 * sources (list them in .agentboxignore where they are outputs). */
static const struct {
	const char *name;
	int dir_only;
} default_rules[] = {
    {"node_modules", 1}, {".venv", 1},	     {"__pycache__", 1},   {".pytest_cache", 1},
    {".mypy_cache", 1},	 {".ruff_cache", 1}, {".tox", 1},	   {".gradle", 1},
    {".next", 1},	 {".nuxt", 1},	     {".parcel-cache", 1}, {".turbo", 1},
    {".cache", 1},	 {".svelte-kit", 1}, {"*.pyc", 0},
};

int state_exclude_globs_match(char *const *globs, const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (char *const *p = globs; p && *p; p++) {
		if (strchr(*p, '/') ? fnmatch(*p, path, FNM_PATHNAME) == 0
				    : fnmatch(*p, base, 0) == 0)
			return 1;
	}
	return 0;
}

/* Matches the components pat[0..np) against path[0..ns), "**" matching
 * any number of components. Like a wildcard match with '*': on a
 * mismatch, only the last "**" takes one more component, so the time is
 * O(np * ns) whatever the pattern (an agent writes these files; a
 * backtracking matcher would let a pattern of many "**" stall the
 * backup). */
static int match_components(char **pat, size_t np, char **path, size_t ns)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;

	while (si < ns) {
		if (pi < np && streq(pat[pi], "**")) {
			star = pi++;
			mark = si;
		} else if (pi < np && fnmatch(pat[pi], path[si], 0) == 0) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else
			return 0;
	}
	while (pi < np && streq(pat[pi], "**"))
		pi++;
	return pi == np;
}

/* Splits s in place at '/' into at most max components; the count, or
 * max + 1 when there are more. */
static size_t split(char *s, char **v, size_t max)
{
	size_t n = 0;

	for (char *p = s;; p++) {
		if (n == max)
			return max + 1;
		v[n++] = p;
		p = strchr(p, '/');
		if (!p)
			return n;
		*p = '\0';
	}
}

/* Matches an anchored pattern (no leading '/') against rel. */
static int match_anchored(const char *pattern, const char *rel)
{
	_cleanup_free_ char *p = NULL, *r = NULL;
	char *pv[MAX_COMPONENTS + 1], *rv[MAX_COMPONENTS];
	size_t np, nr;

	if (!strstr(pattern, "**"))
		return fnmatch(pattern, rel, FNM_PATHNAME) == 0;
	p = xstrdup(pattern);
	r = xstrdup(rel);
	np = split(p, pv, MAX_COMPONENTS);
	nr = split(r, rv, MAX_COMPONENTS);
	if (np > MAX_COMPONENTS || nr > MAX_COMPONENTS)
		return 0;
	/* a trailing "**" is everything inside: one component ("*"), then any */
	if (streq(pv[np - 1], "**")) {
		pv[np - 1] = (char *)"*";
		pv[np++] = (char *)"**";
	}
	return match_components(pv, np, rv, nr);
}

static int rule_matches(const struct rule *r, const char *rel, int is_dir)
{
	const char *base;

	if (r->dir_only && !is_dir)
		return 0;
	if (r->anchored)
		return match_anchored(r->pattern, rel);
	base = strrchr(rel, '/');
	return fnmatch(r->pattern, base ? base + 1 : rel, 0) == 0;
}

/* Parses one line into *ret; 0: nothing to match (blank, comment);
 * -E2BIG: more '*' than MAX_STARS (fnmatch(3) backtracks on each). */
static int rule_parse(char *line, struct rule *ret)
{
	size_t l = strlen(line);
	struct rule r = {0};
	char *slash;

	while (l > 0 && (line[l - 1] == ' ' || line[l - 1] == '\t' || line[l - 1] == '\r'))
		line[--l] = '\0';
	if (l == 0 || line[0] == '#')
		return 0;
	if (line[0] == '!') {
		r.negate = 1;
		line++;
		l--;
	} else if (line[0] == '\\' && (line[1] == '#' || line[1] == '!')) {
		line++;
		l--;
	}
	if (l > 0 && line[l - 1] == '/') {
		r.dir_only = 1;
		line[--l] = '\0';
	}
	slash = strchr(line, '/');
	if (slash) {
		r.anchored = 1;
		if (line[0] == '/') {
			line++;
			l--;
		}
	}
	if (l == 0)
		return 0;
	for (const char *p = line, *q; (q = strchr(p, '*')); p = q + 1)
		if (++r.stars > MAX_STARS)
			return -E2BIG;
	r.pattern = xstrdup(line);
	*ret = r;
	return 1;
}

int state_exclude_pattern_match(const char *pattern, const char *rel, int is_dir)
{
	_cleanup_free_ char *line = xstrdup(pattern);
	struct rule r;
	int m;

	if (rule_parse(line, &r) <= 0)
		return 0;
	m = rule_matches(&r, rel, is_dir);
	free(r.pattern);
	return m;
}

struct state_exclude *state_exclude_new(char *const *globs, int defaults)
{
	struct state_exclude *x = xcalloc(1, sizeof(*x));

	x->globs = globs;
	x->defaults = defaults;
	return x;
}

static void frame_done(struct frame *f)
{
	free(f->dir);
	for (size_t i = 0; i < f->n_rules; i++)
		free(f->rules[i].pattern);
	free(f->rules);
}

struct state_exclude *state_exclude_free(struct state_exclude *x)
{
	if (!x)
		return NULL;
	for (size_t i = 0; i < x->n_frames; i++)
		frame_done(&x->frames[i]);
	free(x->frames);
	free(x);
	return NULL;
}

/* Reads the ignore file of the directory dirfd into f; none is fine. */
static int frame_load(struct frame *f, int dirfd)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int q;

	fd = openat(dirfd, STATE_IGNORE_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > STATE_IGNORE_FILE_MAX)
		return -EFBIG;
	text = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		n = read(fd, text + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	for (char *line = text, *nl; line; line = nl) {
		struct rule r;
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		q = rule_parse(line, &r);
		if (q < 0)
			return q;
		if (q == 0)
			continue;
		f->rules = xrealloc(f->rules, (f->n_rules + 1) * sizeof(*f->rules));
		f->rules[f->n_rules++] = r;
	}
	return 0;
}

/* Is dir the directory a or above it? */
static int dir_covers(const char *dir, size_t l, const char *a)
{
	if (l == 1 && dir[0] == '/')
		return a[0] == '/';
	return strncmp(dir, a, l) == 0 && (a[l] == '\0' || a[l] == '/');
}

/* Makes the frames the ancestors of path's directory, ending with it
 * (read from dirfd). */
static int frames_enter(struct state_exclude *x, int dirfd, const char *path, char **ret_error_path)
{
	const char *slash = strrchr(path, '/');
	size_t l = slash && slash > path ? (size_t)(slash - path) : 1;
	struct frame f = {0};
	int r;

	while (x->n_frames > 0) {
		struct frame *top = &x->frames[x->n_frames - 1];
		if (top->dir_len == l && strncmp(top->dir, path, l) == 0)
			return 0;
		if (top->dir_len < l && dir_covers(top->dir, top->dir_len, path))
			break;
		frame_done(top);
		x->n_frames--;
	}
	f.dir = xasprintf("%.*s", (int)l, path);
	f.dir_len = l;
	r = frame_load(&f, dirfd);
	if (r < 0) {
		if (ret_error_path)
			*ret_error_path =
			    xasprintf("%s/%s", l == 1 ? "" : f.dir, STATE_IGNORE_FILE);
		frame_done(&f);
		return r;
	}
	if (x->n_frames == x->cap_frames) {
		x->cap_frames = x->cap_frames ? 2 * x->cap_frames : 16;
		x->frames = xrealloc(x->frames, x->cap_frames * sizeof(*x->frames));
	}
	x->frames[x->n_frames++] = f;
	return 0;
}

/* A directory with a valid CACHEDIR.TAG (cargo's target/, ccache, ...). */
static int cachedir_tagged(int dirfd, const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", name, CACHEDIR_TAG);
	_cleanup_close_ int fd = -1;
	char buf[sizeof(CACHEDIR_SIGNATURE) - 1];
	ssize_t n;

	fd = openat(dirfd, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	return n == (ssize_t)sizeof(buf) && memcmp(buf, CACHEDIR_SIGNATURE, sizeof(buf)) == 0;
}

static int default_excluded(int dirfd, const char *name, int is_dir)
{
	for (size_t i = 0; i < ELEMENTSOF(default_rules); i++)
		if ((is_dir || !default_rules[i].dir_only) &&
		    fnmatch(default_rules[i].name, name, 0) == 0)
			return 1;
	return is_dir && cachedir_tagged(dirfd, name);
}

int state_exclude_match(struct state_exclude *x, int dirfd, const char *name, const char *path,
			const struct stat *st, char **ret_error_path)
{
	int is_dir = S_ISDIR(st->st_mode), r;

	if (!x)
		return 0;
	if (state_exclude_globs_match(x->globs, path))
		return 1;
	if (dirfd == AT_FDCWD) {
		/* a state path itself, named in the config: no ignore files
		 * above it, nor defaults */
		while (x->n_frames > 0)
			frame_done(&x->frames[--x->n_frames]);
		return 0;
	} else {
		r = frames_enter(x, dirfd, path, ret_error_path);
		if (r < 0)
			return r;
		for (size_t i = x->n_frames; i-- > 0;) {
			const struct frame *f = &x->frames[i];
			const char *rel = path + (f->dir_len == 1 ? 1 : f->dir_len + 1);
			for (size_t j = f->n_rules; j-- > 0;)
				if (rule_matches(&f->rules[j], rel, is_dir))
					return !f->rules[j].negate;
		}
	}
	return x->defaults && default_excluded(dirfd, name, is_dir);
}
