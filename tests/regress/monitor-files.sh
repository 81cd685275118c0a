#!/usr/bin/env bash
# The files signal in the running daemon: a write under the watch path moves
# signals.files.last_active in status.json; excluded writes, writes outside,
# and the daemon's own status.json (kept inside the watch path here) do not;
# a write through a bind mount in another mount namespace does. Then the
# same with the inotify fallback forced. Needs root (fanotify, unshare -m).
. "$(dirname "$0")/../lib.sh"
need_root
need_cmd jq
need_cmd unshare
# agents and terminals elsewhere on this machine must not be what keeps it alive
private_pidns "$@"

H=$T/home
mkdir -p "$H/src" "$H/excluded/deep" "$T/outside"
cfg() { # runtime_dir
	RUN=$1
	cat >"$T/c.json" <<JSON
{"workspace": {"home": "$H"}, "runtime_dir": "$RUN",
 "idle": {"boot_grace": "0s", "interval": "100ms", "timeout": "1h", "action": "none",
          "watch_paths": ["$H"], "exclude_paths": ["$H/excluded", "*.tmp"]}}
JSON
}
field() { "$BIN/agentbox" -c "$T/c.json" status --json 2>/dev/null | jq -r "$1"; }
last() { field .signals.files.last_active; }
# moved_from OLD: last_active is a number greater than OLD ("null": any number)
moved_from() {
	local now
	now=$(last)
	[ "$now" != null ] && [ "$now" -gt "${1/null/0}" ]
}
# last_active is stamped in whole seconds: let the clock pass one
next_second() { sleep 1.1; }
start_monitor() { # backend
	AGENTBOX_FILES_BACKEND=$1 "$BIN/agentbox-monitor" -c "$T/c.json" 2>"$T/monitor-$1.log" &
	mon=$!
	at_exit "kill $mon"
	wait_for 5 test -s "$RUN/status.json"
}
stop_monitor() {
	kill "$mon"
	wait "$mon" 2>/dev/null
}
bind_write() { # a write through a bind mount of the home over itself, in a new mount namespace
	unshare -m --propagation private sh -c "mount --bind '$H' '$H' && echo x >'$1'"
}

run_cases() { # backend
	local b=$1 before
	start_monitor "$b"
	check "$b: daemon runs" test -s "$RUN/status.json"
	check "$b: backend in use" grep -q "with $b\|$b: watching" "$T/monitor-$b.log"
	sleep 0.5
	check "$b: quiet at start" [ "$(last)" = null ]

	echo x >"$H/excluded/a"
	echo x >"$H/excluded/deep/b"
	echo x >"$H/src/c.tmp"
	echo x >"$T/outside/d"
	sleep 0.5
	check "$b: excluded and outside writes do not count" [ "$(last)" = null ]

	echo x >"$H/src/main.c"
	check "$b: a write counts" wait_for 3 moved_from null
	check "$b: detail is the path" [ "$(field .signals.files.detail)" = "$H/src/main.c" ]
	check "$b: kept_alive_by files" [ "$(field .kept_alive_by)" = files ]

	before=$(last)
	next_second
	echo x >"$H/excluded/deep/e"
	sleep 0.5
	check "$b: a later excluded write does not move it" [ "$(last)" = "$before" ]
	echo x >>"$H/src/main.c"
	check "$b: a later write moves it" wait_for 3 moved_from "$before"

	mkdir -p "$H/new/dir" # inotify counts the new directory itself
	sleep 0.3
	next_second
	before=$(last)
	echo x >"$H/new/dir/f.c"
	check "$b: a write in a directory made after start counts" wait_for 3 moved_from "$before"
	check "$b: its detail" [ "$(field .signals.files.detail)" = "$H/new/dir/f.c" ]

	before=$(last)
	next_second
	bind_write "$H/src/via-bind.c"
	check "$b: a write through a bind mount in another mount namespace counts" \
		wait_for 3 moved_from "$before"
	check "$b: its detail is the host path" [ "$(field .signals.files.detail)" = "$H/src/via-bind.c" ]
	check "$b: not degraded" [ "$(field .signals.files.degraded)" = false ]
	stop_monitor
	rm -rf "$H/new" "$H/src"/* "$RUN"
}

# fanotify, with status.json inside the watch path: the daemon's own
# writes every tick must not count
cfg "$H/run"
run_cases fanotify
# inotify cannot tell who wrote: the daemon's own files stay outside
cfg "$T/run"
run_cases inotify
finish
