/* Archive restore (lib/tarball.c): any byte stream as a state archive
 * (tar, optionally zstd) through tarball_extract_fd() into a staging
 * directory, as a restore does with a download. Nothing may appear
 * outside the staging directory, whatever the archive holds; the staging
 * directory is removed after each input. File sizes are capped
 * (RLIMIT_FSIZE) so that a decompression bomb fails instead of filling
 * the disk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "tarball.h"

#define FUZZ_FILE_MAX (32 * 1024 * 1024)

static char root[] = "/tmp/agentbox-fuzz-tarball.XXXXXX";
static char *staging;

static void cleanup(void)
{
	rm_rf(root);
}

static void setup(void)
{
	struct rlimit rl = {FUZZ_FILE_MAX, FUZZ_FILE_MAX};

	FUZZ_ASSERT(mkdtemp(root));
	staging = xasprintf("%s/staging", root);
	atexit(cleanup);
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &rl);
	fuzz_quiet();
}

/* Entries in root besides "staging". */
static int escaped(void)
{
	DIR *d = opendir(root);
	struct dirent *e;
	int n = 0;

	FUZZ_ASSERT(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "staging")) {
			fprintf(stderr, "escaped the staging directory: %s\n", e->d_name);
			n++;
		}
	closedir(d);
	return n;
}

/* Nothing restored is set-id, or owned by anyone but the owner asked for.
 * The parents the extraction creates above the allowed paths stay the
 * caller's (they are never moved into place): owners are checked from the
 * allowed paths down. */
static int defused(int fd, const struct tarball_owner *owner, const char *const *below)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	struct stat st;
	int bad = 0;

	FUZZ_ASSERT(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		const char *const *next = NULL;

		FUZZ_ASSERT(fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0);
		if (below && !strcmp(below[0], e->d_name))
			next = below[1] ? below + 1 : NULL;
		else if (below)
			continue;
		if ((st.st_mode & (S_ISUID | S_ISGID)) ||
		    (owner && !next && st.st_uid != owner->uid)) {
			fprintf(stderr, "not defused: %s mode %o uid %u\n", e->d_name,
				(unsigned)st.st_mode, (unsigned)st.st_uid);
			bad++;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);

			FUZZ_ASSERT(sub >= 0);
			bad += defused(sub, owner, next);
		}
	}
	closedir(d);
	return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* As root, entries of any owner must come out as this user's. */
	static const struct tarball_owner workspace_user = {.uid = 4242, .gid = 4242};
	const struct tarball_owner *owner = geteuid() == 0 ? &workspace_user : NULL;
	static char *const allowed[] = {"/home/agent/.claude", "/a", NULL};
	static const char *const claude[] = {"home", "agent", ".claude", NULL};
	static const char *const a[] = {"a", NULL};
	struct tarball_stats st;
	_cleanup_free_ char *err = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (!staging)
		setup();
	FUZZ_ASSERT(mkdir(staging, 0700) == 0);
	fd = memfd_create("archive", MFD_CLOEXEC);
	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(write(fd, data, size) == (ssize_t)size);
	FUZZ_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
	r = tarball_extract_fd(fd, staging, allowed, owner, &st, &err);
	if (r < 0)
		FUZZ_ASSERT(err);
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "%d %s\n", r, r < 0 ? err : "extracted");
	FUZZ_ASSERT(escaped() == 0);
	FUZZ_ASSERT(defused(open(staging, O_RDONLY | O_DIRECTORY), owner, claude) == 0);
	FUZZ_ASSERT(defused(open(staging, O_RDONLY | O_DIRECTORY), owner, a) == 0);
	FUZZ_ASSERT(rm_rf(staging) == 0);
	return 0;
}
