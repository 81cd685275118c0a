#!/usr/bin/env bash
# The sockets signal: CPU and wall time of one sample, sock_diag (with the
# kernel port filter) against the /proc/net/tcp fallback, with 0 or 2000
# unrelated loopback connections on the host. Writes bench/out/sockets.txt.
set -eu
cd "$(dirname "$0")/.."
BUILD=${AGENTBOX_BUILD:-build}
mkdir -p bench/out
make -s all tests >/dev/null
objs=$(ls "$BUILD"/monitor/monitor-*.o)
# shellcheck disable=SC2086
cc -O2 -g -std=gnu11 -D_GNU_SOURCE -Ilib -Imonitor -o bench/out/sockets-bench bench/sockets.c \
	$objs "$BUILD/libagentbox.a" $(pkg-config --libs libsystemd libcjson) -lm
{
	echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) cores; bench/sockets.sh"
	bench/out/sockets-bench 2>/dev/null
} | tee bench/out/sockets.txt
