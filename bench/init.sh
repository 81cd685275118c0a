#!/usr/bin/env bash
# Boot to ready: agentbox-init against the same steps as a sequential shell
# script (docker pull; aws s3 cp | zstd -d | tar -x; docker run), and the
# floor of any bring-up (docker pull; docker run, no state), with a
# 200 MiB image in a local docker-registry and 200 MiB of state in s3rver,
# on a dockerd of our own. Each run starts from a "fresh machine": no image,
# no container, no state on disk. Raw numbers in bench/out/init.txt.
#   MIB=200 RUNS=3 bench/init.sh
. "$(dirname "$0")/../tests/lib.sh"
. "$TOP/tests/init/lib-docker.sh"
. "$TOP/tests/state/lib-state.sh"
MIB=${MIB:-200}
export AGENTBOX_LOG_FIELDS=1
RUNS=${RUNS:-3}
OUT=$TOP/bench/out/init.txt
mkdir -p "$TOP/bench/out"
need_docker
need_cmd zstd
start_s3
start_dockerd
start_registry open
IMG=127.0.0.1:$REG_PORT/bench/img:1
echo "making a ${MIB} MiB image and ${MIB} MiB of state..."
make_image "$IMG" "$MIB"

H=$T/home/agent
mkdir -p "$H/.claude/projects/-work-app"
for i in $(seq 1 $((MIB / 2))); do
	head -c $((2 * 1024 * 1024)) /dev/urandom >"$H/.claude/projects/-work-app/f$i.bin"
done
echo '{"numStartups": 1}' >"$H/.claude.json"
write_config "$T/c.base" "$H" "bench/"
jq --arg img "$IMG" --arg sock "$DOCKER_SOCK" --arg sd "$T/state" --arg e "$S3_DIRECT" \
	'.workspace += {name: "bench", block_metadata: false, image: $img, command: ["sleep", "100000"], ports: [],
	 docker_host: $sock} | .state_dir = $sd | .state.storage.endpoint = $e |
	 .provider.name = "none"' \
	"$T/c.base" >"$T/c.json"
"$BIN/agentbox" -c "$T/c.json" backup >"$T/backup.out" 2>&1 || { cat "$T/backup.out"; exit 1; }
gen=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/backup.out")
KEY=bench/generations/$gen.tar.zst

s3get() { # to stdout
	if command -v aws >/dev/null; then
		AWS_SHARED_CREDENTIALS_FILE=$CREDS AWS_DEFAULT_REGION=us-east-1 \
			aws --endpoint-url "$S3_DIRECT" s3 cp "s3://$BUCKET/$KEY" -
	else
		"$HELPERS/s3-tool" "$S3_DIRECT" us-east-1 "$BUCKET" "$CREDS" get "$KEY"
	fi
}

fresh() {
	docker rm -f agentbox-bench >/dev/null 2>&1
	docker rmi -f "$IMG" >/dev/null 2>&1
	rm -rf "$H/.claude" "$H/.claude.json" "$T/state"
	sync
}
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: >"$T/a" ; : >"$T/b" ; : >"$T/c" ; : >"$T/pull" ; : >"$T/restore"
for r in $(seq 1 "$RUNS"); do
	fresh
	t0=$(now)
	"$BIN/agentbox-init" --services=none -c "$T/c.json" >"$T/out" 2>"$T/err" || { cat "$T/err"; exit 1; }
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$T/a"
	sed -n 's/.*AGENTBOX_PULL_MS=\([0-9]*\).*/\1/p' "$T/err" | awk '{print $1/1000}' >>"$T/pull"
	sed -n 's/.*AGENTBOX_RESTORE_MS=\([0-9]*\).*/\1/p' "$T/err" | awk '{print $1/1000}' >>"$T/restore"

	fresh
	t0=$(now)
	docker pull -q "$IMG" >/dev/null &&
		s3get | zstd -dc | tar -x -C / &&
		docker run -d --name agentbox-bench --restart unless-stopped -v "$H:$H" -w "$H" \
			"$IMG" sleep 100000 >/dev/null || { echo "script failed"; exit 1; }
	t1=$(now)
	[ -s "$H/.claude.json" ] || { echo "script did not restore"; exit 1; }
	echo "$t1 - $t0" | bc >>"$T/b"
	# the floor for any bring-up: the image and the container, no state at all
	fresh
	t0=$(now)
	docker pull -q "$IMG" >/dev/null &&
		docker run -d --name agentbox-bench -v "$H:$H" -w "$H" "$IMG" sleep 100000 >/dev/null ||
		{ echo "floor failed"; exit 1; }
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$T/c"
	echo "run $r: floor (docker pull; docker run) $(tail -1 "$T/c")s"
	echo "run $r: agentbox-init $(tail -1 "$T/a")s (pull $(tail -1 "$T/pull")s, restore $(tail -1 "$T/restore")s), script $(tail -1 "$T/b")s"
done
fresh

a=$(median <"$T/a") b=$(median <"$T/b") c=$(median <"$T/c") p=$(median <"$T/pull") s=$(median <"$T/restore")
mx=$(echo "if ($p > $s) $p else $s" | bc -l)
{
	echo "# bench/init.sh: MIB=$MIB RUNS=$RUNS, $(date -u +%FT%TZ), $(nproc) cores, docker $(docker version -f '{{.Server.Version}}' 2>/dev/null)"
	echo "agentbox-init boot-to-ready (median): ${a}s"
	echo "  its pull step: ${p}s, its restore step: ${s}s (median)"
	printf 'agentbox-init / max(pull, restore): %.2f\n' "$(echo "$a / $mx" | bc -l)"
	echo "sequential script (docker pull; s3 cp | zstd -d | tar -x; docker run) (median): ${b}s"
	printf 'script / agentbox-init: %.2fx\n' "$(echo "$b / $a" | bc -l)"
	echo "floor: docker pull; docker run, no state (median): ${c}s"
	printf 'agentbox-init / floor: %.2f\n' "$(echo "$a / $c" | bc -l)"
	echo "raw agentbox-init: $(tr '\n' ' ' <"$T/a")"
	echo "raw script: $(tr '\n' ' ' <"$T/b")"
	echo "raw floor: $(tr '\n' ' ' <"$T/c")"
} | tee "$OUT"
