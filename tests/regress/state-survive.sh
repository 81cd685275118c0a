#!/usr/bin/env bash
# What survives, through agentbox backup and restore on RGW with the
# default state.paths: the agent's state and the projects directory
# (workspace.projects_dir), at the same absolute paths, so that Claude
# Code's per-project sessions (~/.claude/projects/<path-derived name>)
# still match their project; a git repository with uncommitted changes;
# modes, mtimes and symlinks. What is left out: the rebuildable defaults
# (node_modules, .venv, __pycache__, a CACHEDIR.TAG directory), state.exclude
# and .agentboxignore files (anchored, directory-only, "!" exceptions,
# deeper files winning); state.exclude_defaults false keeps the defaults'
# directories; a bad ignore file fails the backup naming it. The sizes:
# agentbox generations shows files, data and stored bytes.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
need_cmd git
need_root
start_s3

H=$T/home/agent
W=$H/work
P=$W/app
# Claude Code files a project's sessions under its absolute path, each '/'
# and '.' made '-'
SESS=$H/.claude/projects/$(printf '%s' "$P" | tr '/.' '--')
mkdir -p "$SESS" "$P/src"
printf '{"type":"user","cwd":"%s"}\n' "$P" >"$SESS/0d4e.jsonl"
echo '{"numStartups": 3, "projects": {}}' >"$H/.claude.json"

# the project: a git repository with a commit and uncommitted work
git -C "$P" init -q
echo 'int main(void) { return 0; }' >"$P/src/main.c"
git -C "$P" -c user.email=t@t -c user.name=t add -A
git -C "$P" -c user.email=t@t -c user.name=t commit -qm first
echo '/* not committed yet */' >>"$P/src/main.c"
echo 'new file, untracked' >"$P/src/new.c"
ln -s src/main.c "$P/main-link"
chmod 0750 "$P/src"
touch -d '2021-02-03 04:05:06.123456789' "$P/src/new.c"
# what is left out
mkdir -p "$P/node_modules/left-pad" "$P/.venv/bin" "$P/src/__pycache__" "$P/target/debug" \
	"$P/dist" "$P/logs" "$P/vendor/node_modules/patched"
echo x >"$P/node_modules/left-pad/index.js"
echo x >"$P/.venv/bin/python"
echo x >"$P/src/__pycache__/m.pyc"
printf 'Signature: 8a477f597d28d172789f06886806bc55\n' >"$P/target/CACHEDIR.TAG"
echo x >"$P/target/debug/app"
echo x >"$P/dist/bundle.js"
echo x >"$P/logs/a.log"
echo kept >"$P/logs/keep.log"
echo x >"$P/token.secret"
echo kept >"$P/vendor/node_modules/patched/x.js"
printf '# outputs\n/dist/\n*.log\n!keep.log\n' >"$P/.agentboxignore"
printf '!node_modules/\n' >"$P/vendor/.agentboxignore"

write_config "$T/c.json" "$H" "sv/" '"exclude": ["*.secret"]'
AB() { "$BIN/agentbox" -c "$T/c.json" "$@"; }
listing() { for p in "$H/.claude" "$H/.claude.json" "$W"; do echo "== $p"; tree_listing "$p"; done; }
left_out="b'app/(node_modules|\\.venv|src/__pycache__|target|dist|logs/a\\.log|token\\.secret)"

check "the default state paths are the agent's state and the projects directory" \
	[ "$(AB config | jq -c .state.paths)" = "[\"$H/.claude\",\"$H/.claude.json\",\"$W\"]" ]

AB backup >"$T/out" 2>"$T/err"
check "backup succeeds" [ $? -eq 0 ]
gen1=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/out")
listing | grep -Ev "$left_out" >"$T/want"
files=$(grep -vc '^==' "$T/want")
check "backup counts exactly the entries kept" grep -q "^generation $gen1: $files files" "$T/out"

AB generations >"$T/gens" 2>&1
check "agentbox generations: files, data kept and stored size" \
	grep -qE "^$gen1 +[0-9TZ:-]+ +$files +[0-9.]+ (B|KiB|MiB) +[0-9.]+ (B|KiB|MiB)  .*\(latest\)" "$T/gens"
check "agentbox generations has the column names" grep -qE '^GENERATION +CREATED +FILES +DATA +STORED +HOST' "$T/gens"

rm -rf "$H/.claude" "$H/.claude.json" "$W"
AB restore >"$T/out" 2>&1
check "restore succeeds" grep -q "restored generation $gen1" "$T/out"
listing >"$T/got"
check "everything kept comes back at the same absolute paths (content, modes, mtimes, symlinks)" \
	diff "$T/want" "$T/got"
check "the session is filed under the project's path again" [ -f "$SESS/0d4e.jsonl" ]
check "the uncommitted change and the untracked file are there" \
	bash -c "git -C '$P' status --porcelain | sort | tr '\n' ' ' | grep -qx ' M src/main.c ?? .agentboxignore ?? logs/ ?? main-link ?? src/new.c ?? vendor/ '"
check "the repository is intact" git -C "$P" fsck --strict
check "left out: node_modules, .venv, __pycache__, the CACHEDIR.TAG directory" \
	bash -c "! [ -e '$P/node_modules' ] && ! [ -e '$P/.venv' ] && ! [ -e '$P/src/__pycache__' ] && ! [ -e '$P/target' ]"
check "left out: .agentboxignore's /dist/ and *.log, but !keep.log kept" \
	bash -c "! [ -e '$P/dist' ] && ! [ -e '$P/logs/a.log' ] && [ \"\$(cat '$P/logs/keep.log')\" = kept ]"
check "left out: state.exclude's *.secret" bash -c "! [ -e '$P/token.secret' ]"
check "a deeper ignore file's !node_modules/ keeps that one" [ "$(cat "$P/vendor/node_modules/patched/x.js")" = kept ]

# the defaults off: their directories are kept; state.exclude and the
# ignore files still apply
mkdir -p "$P/node_modules/left-pad" && echo x >"$P/node_modules/left-pad/index.js"
write_config "$T/c2.json" "$H" "sv/" '"exclude": ["*.secret"], "exclude_defaults": false'
"$BIN/agentbox" -c "$T/c2.json" backup >"$T/out" 2>&1
check "exclude_defaults false: backup" grep -q -- "-000002: " "$T/out"
rm -rf "$W"
"$BIN/agentbox" -c "$T/c2.json" restore >"$T/out" 2>&1
check "exclude_defaults false: node_modules comes back" [ -f "$P/node_modules/left-pad/index.js" ]
check "exclude_defaults false: .agentboxignore still applies" bash -c "! [ -e '$P/dist' ]"

# an ignore file that cannot be read fails the backup, naming it
mkfifo "$P/src/.agentboxignore"
AB backup --force >"$T/out" 2>"$T/err"
check "a bad ignore file fails the backup" [ $? -eq 1 ]
check "the message names the ignore file" grep -q "$P/src/.agentboxignore" "$T/err"
check "the previous generation stays the latest" grep -q -- "-000002 .*(latest)" <(AB generations 2>&1)
finish
