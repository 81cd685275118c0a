# Shared helpers for tests/regress/*.sh (source it). Every test:
#   - prints PASS: / FAIL: / SKIP: lines through pass, fail and skip;
#   - works in its own $T (a temp dir removed at exit);
#   - bounds every wait (wait_for) so nothing hangs;
#   - kills what it started (at_exit).
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AGENTBOX_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
BIN=$BUILD/bin
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/agentbox-$TEST_NAME.XXXXXX")
_failed=0
_cleanups=()

at_exit() { _cleanups+=("$*"); }
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[i]}" >/dev/null 2>&1 || true; done
	rm -rf "$T"
}
trap _run_cleanups EXIT

pass() { echo "PASS: $TEST_NAME: $*"; }
fail() { echo "FAIL: $TEST_NAME: $*"; _failed=1; }
skip() { echo "SKIP: $TEST_NAME: $*"; }
# check NAME COMMAND...: PASS or FAIL by the command's status.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
# wait_for SECONDS COMMAND...: polls every 0.1 s; 0 when it held in time.
wait_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
need_root() { [ "$(id -u)" -eq 0 ] || { skip "needs root"; exit 0; }; }
need_cmd() { command -v "$1" >/dev/null || { skip "needs $1"; exit 0; }; }
# Ends the test: status 1 when any check failed.
finish() { exit "$_failed"; }
# private_pidns "$@": re-runs the test in a private pid namespace with its
# own /proc (root), so agents and terminals elsewhere on this machine do not
# count; skips the test where that is impossible. Call it first.
private_pidns() {
	if [ -z "${AGENTBOX_IN_PIDNS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null &&
		unshare --pid --fork --mount-proc true 2>/dev/null; then
		rm -rf "$T"
		trap - EXIT
		AGENTBOX_IN_PIDNS=1 exec unshare --pid --kill-child --mount-proc "$0" "$@"
	fi
	[ -n "${AGENTBOX_IN_PIDNS:-}" ] || { skip "needs a private pid namespace (root, unshare)"; exit 0; }
}
# free_port: a loopback TCP port nobody listens on now (50 tries).
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		ss -Hltn "sport = :$p" | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}
