#!/usr/bin/env bash
# The v2 state format against RGW: chunked, deduplicated, encrypted.
# Encrypted round trip byte for byte with nothing readable in the bucket;
# a 1 MiB change in a large file uploads < 2% of what is stored; a wrong
# or missing key, a group-readable key file, a tampered pack and a swapped
# tree are refused with nothing local changed; pruning keeps every chunk a
# kept generation uses (each kept generation restores afterwards); a bucket
# in the old layout restores, takes a v2 backup, and its old generation
# still restores; with a key, an old-layout generation is refused.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/state/lib-state.sh"
need_cmd jq
need_cmd zstd
need_cmd openssl
need_root
start_s3

large=256
H=$T/home/agent
mkdir -p "$H/.claude/projects/p" "$T/keys"
python3 "$TOP/tests/state/make-tree.py" "$H/.claude" 500 4 16 || { fail "make-tree"; finish; }
echo 'SECRET-MARKER-in-a-transcript' >"$H/.claude/projects/p/session.jsonl"
echo '{"numStartups": 3}' >"$H/.claude.json"
head -c 32 /dev/urandom >"$T/keys/k1" && chmod 600 "$T/keys/k1"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/keys/k2" && echo >>"$T/keys/k2" && chmod 600 "$T/keys/k2"
write_config "$T/c.json" "$H" "enc/" '"encryption": {"key_file": "'"$T/keys/k1"'"}'
write_config "$T/k2.json" "$H" "enc/" '"encryption": {"key_file": "'"$T/keys/k2"'"}'
write_config "$T/nokey.json" "$H" "enc/"
AB() { "$BIN/agentbox" -c "$T/c.json" "$@"; }
listing() { { tree_listing "$H/.claude"; tree_listing "$H/.claude.json"; }; }
restored() { sed "/b'-dash'\$/s/ 1234 2345 / 0 0 /" "$1"; }
uploaded() { sed -n 's/.* \([0-9]*\) bytes uploaded.*/\1/p' "$1" | tail -n 1; }
stored() { sed -n 's/.*, \([0-9]*\) bytes stored,.*/\1/p' "$1" | tail -n 1; }

# --- encrypted round trip ---
AB backup >"$T/out" 2>&1
check "encrypted backup succeeds" grep -q "^generation .*-000001: " "$T/out"
gen1=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/out")
listing >"$T/l1"
$S3 list enc/ >"$T/keys.txt"
check "layout: a tree, an index, packs and latest" \
	bash -c "grep -q 'generations/$gen1.tree\$' '$T/keys.txt' && grep -q '/index/' '$T/keys.txt' && grep -q '/packs/' '$T/keys.txt' && grep -q 'enc/latest\$' '$T/keys.txt'"
plain=0 marker=0
while read -r k; do
	case $k in */lease.json) continue ;; esac
	$S3 get "$k" >"$T/obj" 2>/dev/null || { plain=1; continue; }
	[ "$(head -c 4 "$T/obj")" = AB2E ] || plain=1
	grep -q SECRET-MARKER "$T/obj" && marker=1
done < <(awk '{print $2}' "$T/keys.txt")
check "every object in the bucket is an encrypted envelope" [ "$plain" = 0 ]
check "no plaintext in the bucket" [ "$marker" = 0 ]
rm -rf "$H/.claude" "$H/.claude.json"
AB restore >"$T/out" 2>&1
check "encrypted restore succeeds" grep -q "restored generation $gen1" "$T/out"
listing >"$T/r1"
check "restored byte for byte, modes, owners, mtimes" diff <(restored "$T/l1") "$T/r1"
listing >"$T/l1"
check "verify reads the generation back" AB restore --verify

# --- incremental: 1 MiB changed in a large file (its own workspace) ---
B=$T/big/home/agent
mkdir -p "$B/.claude"
# random-looking, so that nothing deduplicates (make-tree's large file
# repeats a block), and the same every run (an AES-CTR keystream), so that
# the cut points are too and the figure below does not vary between runs
keystream() { openssl enc -aes-256-ctr -pass "pass:$1" -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c "$2"; }
keystream agentbox-state-v2 $((large * 1024 * 1024)) >"$B/.claude/large"
echo '{}' >"$B/.claude.json"
write_config "$T/inc.json" "$B" "inc/" '"encryption": {"key_file": "'"$T/keys/k1"'"}'
"$BIN/agentbox" -c "$T/inc.json" backup >"$T/out" 2>&1 || fail "large backup: $(tail -3 "$T/out")"
keystream agentbox-change $((1024 * 1024)) |
	dd of="$B/.claude/large" bs=1M seek=$((large / 2)) conv=notrunc status=none
"$BIN/agentbox" -c "$T/inc.json" backup >"$T/out" 2>&1
check "backup after a 1 MiB change" grep -q -- "-000002: " "$T/out"
grep "Backed up" "$T/out"
up=$(uploaded "$T/out") st=$(stored "$T/out")
echo "incremental: uploaded $up of $st bytes stored"
check "a 1 MiB change uploads < 2% of what is stored ($up of $st)" \
	bash -c "[ -n '$up' ] && [ -n '$st' ] && [ $((${up:-0} * 50)) -lt ${st:-0} ]"
"$BIN/agentbox" -c "$T/inc.json" restore --verify >"$T/out" 2>&1
check "the large generation reads back" [ $? -eq 0 ]
rm -rf "$T/big"

# a change in the main workspace: its second generation
echo "change" >>"$H/.claude/projects/p/session.jsonl"
AB backup >"$T/out" 2>&1
check "second generation" grep -q -- "-000002: " "$T/out"
gen2=$(sed -n 's/^generation \([^:]*\):.*/\1/p' "$T/out")
listing >"$T/l2"

# --- keys that do not fit ---
snapshot() { listing; }
snapshot >"$T/before"
"$BIN/agentbox" -c "$T/k2.json" restore --take-over >"$T/out" 2>&1
check "wrong key: restore refused" [ $? -ne 0 ]
check "wrong key: says so" grep -q "encrypted with another key" "$T/out"
check "wrong key: nothing local changed" diff "$T/before" <(snapshot)
"$BIN/agentbox" -c "$T/nokey.json" restore --take-over >"$T/out" 2>&1
check "no key: restore refused" [ $? -ne 0 ]
check "no key: says a key is needed" grep -q "no key is configured" "$T/out"
check "no key: nothing local changed" diff "$T/before" <(snapshot)
chmod 640 "$T/keys/k1"
AB restore >"$T/out" 2>&1
check "group-readable key file refused" grep -q "readable by group or others" "$T/out"
chmod 600 "$T/keys/k1"
AB backup >/dev/null 2>&1 # the lease back to us
check "nothing local changed" diff "$T/before" <(snapshot)

# --- a tampered pack, a swapped tree ---
# every pack damaged in one byte (whichever holds what the latest uses)
$S3 list enc/packs/ | awk '{print $2}' >"$T/packs"
n=0
while read -r pack; do
	n=$((n + 1))
	$S3 get "$pack" >"$T/pack.$n"
	cp "$T/pack.$n" "$T/bad"
	printf '\x55' | dd of="$T/bad" bs=1 seek=100 conv=notrunc 2>/dev/null
	cmp -s "$T/bad" "$T/pack.$n" && printf '\xaa' | dd of="$T/bad" bs=1 seek=100 conv=notrunc 2>/dev/null
	$S3 put "$pack" "$T/bad"
done <"$T/packs"
AB restore >"$T/out" 2>&1
check "tampered pack: restore refused" [ $? -ne 0 ]
check "tampered pack: fails authentication" grep -q "fails authentication" "$T/out"
check "tampered pack: nothing local changed" diff "$T/before" <(snapshot)
check "tampered pack: verify fails" not AB restore --verify
n=0
while read -r pack; do n=$((n + 1)); $S3 put "$pack" "$T/pack.$n"; done <"$T/packs"
$S3 get "enc/generations/$gen1.tree" >"$T/t1"
$S3 get "enc/generations/$gen2.tree" >"$T/t2"
$S3 put "enc/generations/$gen2.tree" "$T/t1"
AB restore >"$T/out" 2>&1
check "swapped tree: restore refused" [ $? -ne 0 ]
check "swapped tree: fails authentication" grep -q "fails authentication" "$T/out"
check "swapped tree: nothing local changed" diff "$T/before" <(snapshot)
$S3 put "enc/generations/$gen2.tree" "$T/t2"
AB restore >"$T/out" 2>&1
check "repaired: restores" grep -q "restored generation $gen2" "$T/out"
check "repaired: byte for byte" diff <(restored "$T/l2") <(listing)

# --- pruning: keep 2, every kept generation restores ---
write_config "$T/c.json" "$H" "enc/" '"keep": 2, "encryption": {"key_file": "'"$T/keys/k1"'"}'
packs_before=$($S3 list enc/packs/ | wc -l)
for i in 3 4 5; do
	head -c $((3 * 1024 * 1024)) /dev/urandom >"$H/.claude/projects/p/big$i"
	rm -f "$H/.claude/projects/p/big$((i - 1))"
	AB backup >"$T/out" 2>&1 || fail "backup $i: $(cat "$T/out")"
	listing >"$T/lg$i"
done
$S3 list enc/generations/ >"$T/gens"
check "retention keeps two generations" [ "$(grep -c '\.tree$' "$T/gens")" = 2 ]
check "pruning merged the index" [ "$($S3 list enc/index/ | wc -l)" = 1 ]
echo "packs: $packs_before before, $($S3 list enc/packs/ | wc -l) after pruning"
for i in 4 5; do
	g=$(sed -n "s|.*/\([^/]*-00000$i\)\.tree\$|\1|p" "$T/gens")
	AB restore --generation "$g" >"$T/out" 2>&1
	check "after pruning: kept generation $i restores" grep -q "restored generation $g" "$T/out"
	check "after pruning: kept generation $i byte for byte" diff <(restored "$T/lg$i") <(restored <(listing))
done

# --- the old layout (a small tree: s3-tool puts at most 64 MiB) ---
rm -f "$H/.claude/sparse" "$H/.claude/projects/p/"big*
O=$T/old
mkdir -p "$O/home/agent/.claude"
echo "from v1" >"$O/home/agent/.claude/old"
echo '{"v": 1}' >"$O/home/agent/.claude.json"
tar --format=pax -C / -cf "$T/v1.tar" "${H#/}/.claude" "${H#/}/.claude.json" 2>/dev/null
listing >"$T/lv1"
zstd -q -f "$T/v1.tar" -o "$T/v1.tar.zst"
id=20260101T000000Z-000001
$S3 put "old/generations/$id.tar.zst" "$T/v1.tar.zst"
cat >"$T/m.json" <<JSON
{"format": 1, "generation": "$id", "size": $(stat -c %s "$T/v1.tar.zst"), "sha256": "$(sha256sum "$T/v1.tar.zst" | cut -d' ' -f1)",
 "files": 2, "bytes": 10, "paths": ["$H/.claude", "$H/.claude.json"], "host": "test", "tree_digest": ""}
JSON
$S3 put "old/generations/$id.json" "$T/m.json"
echo "{\"generation\": \"$id\"}" >"$T/latest" && $S3 put old/latest "$T/latest"
write_config "$T/old.json" "$H" "old/"
write_config "$T/oldkey.json" "$H" "old/" '"encryption": {"key_file": "'"$T/keys/k1"'"}'
rm -rf "$H/.claude" "$H/.claude.json"
"$BIN/agentbox" -c "$T/oldkey.json" restore --take-over >"$T/out" 2>&1
check "old layout with a key: refused" grep -q "old, unencrypted layout" "$T/out"
"$BIN/agentbox" -c "$T/old.json" restore --take-over >"$T/out" 2>&1
check "old layout restores" grep -q "restored generation $id" "$T/out"
check "old layout byte for byte" diff <(restored "$T/lv1") <(restored <(listing))
echo "after v1" >"$H/.claude/new"
"$BIN/agentbox" -c "$T/old.json" backup >"$T/out" 2>&1
check "first v2 backup over the old layout" grep -q -- "-000002: " "$T/out"
check "it is a v2 generation" bash -c "$S3 list old/generations/ | grep -q -- '-000002.tree\$'"
listing >"$T/lnew"
rm -rf "$H/.claude" "$H/.claude.json"
"$BIN/agentbox" -c "$T/old.json" restore >"$T/out" 2>&1
check "the v2 generation restores" diff <(restored "$T/lnew") <(restored <(listing))
"$BIN/agentbox" -c "$T/old.json" restore --generation "$id" >"$T/out" 2>&1
check "the old generation still restores" diff <(restored "$T/lv1") <(restored <(listing))
finish
