#!/usr/bin/env bash
# The terminal in the browser side by side with SSH, in one run on this
# machine (loopback):
#   page   /terminal of agentbox-display in headless Chromium (xterm.js),
#          tmux in a workspace container of our own dockerd (Engine API exec)
#   ssh    `ssh -t 127.0.0.1 tmux attach` in a pty: Debian's sshd on port
#          22530 with host keys under the temp dir, a host tmux
#   ssh+attach  `ssh -t 127.0.0.1 agentbox attach`: SSH, then the Engine API
# Figures: keystroke-to-echo latency p50/p95 over $KEYS keystrokes (page:
# keystroke into xterm.js to the echo parsed into its buffer; ssh: the byte
# written to the pty to its echo read back); output throughput (`cat` of
# $MB MB of text to the end marker on screen); the display's CPU over
# $IDLE_SECS with a terminal open and nothing printed.
# Raw output: bench/out/terminal.txt. Needs .ci/deps.d/{display,term}.apt
# and `make tests`.
#   KEYS=200 MB=50 IDLE_SECS=30 bench/terminal.sh
. "$(dirname "$0")/../tests/lib.sh"
. "$TOP/tests/display/lib-display.sh"
. "$TOP/tests/init/lib-docker.sh"
. "$TOP/tests/term/lib-term.sh"
KEYS=${KEYS:-200}
MB=${MB:-50}
IDLE_SECS=${IDLE_SECS:-30}
OUT=$TOP/bench/out/terminal.txt
SSH_PORT=22530 D=:363 RFB=22540 WEB=22541
mkdir -p "$TOP/bench/out"
need_display_tools
need_browser
need_docker
need_tmux_image_tools
need_cmd sshd
need_cmd ssh
DRIVE=$TOP/tests/term/pty-drive.py
: >"$OUT"
say() { echo "$*" | tee -a "$OUT"; }

start_dockerd
make_tmux_image termtest:tmux
start_workspace termbench
docker exec agentbox-termbench sh -c "yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c $((MB * 1000000)) >/tmp/big.txt"
yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c $((MB * 1000000)) >"$T/big.txt"

cat >"$T/c.json" <<JSON
{"workspace": {"name": "termbench", "user": "agent", "home": "$T", "docker_host": "$DOCKER_SOCK"},
 "display": {"x_display": "$D", "port": $RFB, "web_port": $WEB,
             "terminal_dir": "$BUILD/share/terminal"}}
JSON
start_xvfb $D 1024x768
start_display "$T/c.json" "$T/display.log"
wait_for 15 served "$T/display.log" || { fail "display did not start"; exit 1; }
page() { (cd "$DISPLAY_TESTS" && PORT=$WEB timeout 600 node terminal.js "$@" 2>&1); }

# sshd of our own: loopback, our port, our host key, our client key
mkdir -p "$T/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host" && ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/client"
cp "$T/ssh/client.pub" "$T/ssh/authorized_keys"
cat >"$T/ssh/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $SSH_PORT
HostKey $T/ssh/host
PidFile $T/ssh/sshd.pid
AuthorizedKeysFile $T/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
CONF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$T/ssh/sshd_config" 2>"$T/ssh/sshd.log" &
sshd_pid=$!
at_exit "kill $sshd_pid"
SSH="ssh -tt -p $SSH_PORT -i $T/ssh/client -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR root@127.0.0.1"
wait_for 10 $SSH true || { fail "sshd did not answer"; cat "$T/ssh/sshd.log"; exit 1; }
tmux -S "$T/tmux.sock" new-session -d -s bench -x 120 -y 40 /bin/sh
at_exit "tmux -S $T/tmux.sock kill-server"

say "terminal bench: $KEYS keystrokes, $MB MB cat, ${IDLE_SECS}s idle ($(nproc) cores, $(date -u +%F))"
# page
r=$(page latency "$KEYS"); say "page        $r"
r=$(page throughput /tmp/big.txt "$MB"); say "page        $r"
# ssh + host tmux
drive() { # name command...
	local name=$1
	shift
	python3 "$DRIVE" 40 120 -- "$@" <<STEPS | grep -E '^(LATENCY|THROUGHPUT|TIMEOUT)' | sed "s/^/$name /" | tee -a "$OUT"
sleep 2
send clear\r
sleep 1
latency $KEYS
throughput cat $BIGFILE; echo EN""D-\$(($MARK+1)) END-$((MARK + 1)) $MB
send \x02d
wait 20
STEPS
}
MARK=$RANDOM BIGFILE=$T/big.txt drive "ssh        " $SSH tmux -S "$T/tmux.sock" attach -t bench
MARK=$RANDOM BIGFILE=/tmp/big.txt drive "ssh+attach " $SSH "$BIN/agentbox" --config "$T/c.json" attach

# idle: the display's CPU with a terminal open, nothing printed
page idle $((IDLE_SECS + 10)) >"$T/idle.log" &
ipid=$!
wait_for 30 grep -q READY "$T/idle.log"
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/$DPID/stat"; }
t0=$(ticks) && s0=$(date +%s.%N)
sleep "$IDLE_SECS"
t1=$(ticks) && s1=$(date +%s.%N)
wait $ipid
say "$(awk -v a="$t0" -v b="$t1" -v s="$s0" -v e="$s1" -v hz="$(getconf CLK_TCK)" \
	'BEGIN { printf "idle        display CPU %.2f%% over %.0f s with a terminal open\n", 100 * (b - a) / hz / (e - s), e - s }')"
stops_cleanly "$T/display.log" || fail "display did not stop cleanly"
finish
