#!/usr/bin/env bash
# agentbox attach: runs "docker exec -it agentbox-<name> tmux new-session
# -A -s main" against the configured Docker socket, only on a terminal.
# docker is a recorder here (first in PATH).
. "$(dirname "$0")/../lib.sh"
need_cmd script
mkdir -p "$T/bin"
printf '#!/bin/sh\necho "$@" >"%s/args"\n' "$T" >"$T/bin/docker"
chmod 755 "$T/bin/docker"
echo '{"workspace": {"name": "ws1", "docker_host": "/run/d.sock"}}' >"$T/c.json"
PATH=$T/bin:$PATH "$BIN/agentbox" --config "$T/c.json" attach </dev/null 2>"$T/err"
check "attach without a terminal: status 1" [ $? -eq 1 ]
check "attach without a terminal: says so" grep -q 'needs a terminal' "$T/err"
PATH=$T/bin:$PATH script -qec "'$BIN/agentbox' --config '$T/c.json' attach" /dev/null >/dev/null
check "attach execs docker exec into the workspace's tmux" \
	grep -qx -- '--host unix:///run/d.sock exec -it agentbox-ws1 tmux new-session -A -s main' "$T/args"
rm -f "$T/args"
PATH=$T/bin:$PATH script -qec "'$BIN/agentbox' --config '$T/c.json' attach --session s2" /dev/null >/dev/null
check "attach --session" grep -q -- '-A -s s2$' "$T/args"
PATH=$T/bin:$PATH "$BIN/agentbox" --config "$T/c.json" attach extra </dev/null 2>/dev/null
check "attach with an extra argument: status 2" [ $? -eq 2 ]
finish
