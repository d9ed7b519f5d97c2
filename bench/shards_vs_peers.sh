#!/usr/bin/env bash
# cairn's shard-file commands (encode, decode, verify, repair) side by side with their peers on this
# machine, in the same run: zfec (Debian python3-zfec, through bench/peers/zfec_*.py), par2
# (Debian par2) and `cat` of the shard files.
#
# Usage: bench/shards_vs_peers.sh [path/to/cairn]          (default: build/cairn)
# Environment:
#   SIZE_MB=1024   size of the random file for the zfec / cat comparisons
#   PAR2_MB=256    size of the random file for the par2 comparisons
#   RUNS=3         runs per measurement; the table shows the median wall time, the max peak RSS
#   TMPDIR         where the scratch directory goes (default /var/tmp); one disk for everything
#   MD_OUT=FILE    also write the markdown table to FILE
#   STRICT=1       exit 2 when a speed or RSS target fails (exit 1 is kept for errors)
#   PYTHON         interpreter with the zfec module (default /usr/bin/python3, Debian's)
# Needs: apt-get install -y par2 python3-zfec
#
# Every timed command runs under /usr/bin/time -v (peak RSS, exit status) with stdout to /dev/null;
# the wall time is taken around it from $EPOCHREALTIME (us resolution; time -v's "Elapsed" has only
# 10 ms). Runs of the two sides alternate, so both see the same page cache and the same neighbours.
# A tool exiting with an unexpected status or a rebuilt file that differs from the original stops
# the script with an error (the table measured so far is still printed).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CAIRN_ARG=${1:-build/cairn}
SIZE_MB=${SIZE_MB:-1024}
PAR2_MB=${PAR2_MB:-256}
RUNS=${RUNS:-3}
PY=${PYTHON:-/usr/bin/python3}
ZENC="$HERE/peers/zfec_encode.py"
ZDEC="$HERE/peers/zfec_decode.py"
RSS_LIMIT_KIB=$((64 * 1024))

LAST_ERR=""
err() { LAST_ERR="$*"; echo "shards_vs_peers: ERROR: $*" >&2; }
die() { err "$@"; exit 1; }
note() { echo "shards_vs_peers: $*" >&2; }

# ---------------------------------------------------------------- preflight
[[ $SIZE_MB =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive integer (got '$SIZE_MB')"
[[ $PAR2_MB =~ ^[1-9][0-9]*$ ]] || die "PAR2_MB must be a positive integer (got '$PAR2_MB')"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
command -v par2 >/dev/null || die "par2 not found (apt-get install par2)"
"$PY" -c 'import zfec' 2>/dev/null || die "$PY cannot import zfec (apt-get install python3-zfec)"
[[ -f $ZENC && -f $ZDEC ]] || die "missing $ZENC or $ZDEC"
CAIRN=$(readlink -f "$CAIRN_ARG") || die "cannot resolve $CAIRN_ARG"
[[ -x $CAIRN ]] || die "$CAIRN_ARG: not an executable (build cairn first, or pass its path)"

# Which shard-file subcommands does this build have? (`cairn X --help` for an unknown X prints the
# top-level help and exits 0, so look at the list of subcommands instead.)
CAIRN_HELP=$("$CAIRN" --help 2>&1) || die "$CAIRN --help failed"
declare -A HAVE=()
for c in encode decode verify repair; do
    if grep -qE "^[[:space:]]+$c([[:space:]]|$)" <<<"$CAIRN_HELP"; then
        HAVE[$c]=1
    else
        HAVE[$c]=0
        note "cairn $c: not available in this build (its rows are skipped)"
    fi
done
have() { [[ ${HAVE[$1]} == 1 ]]; }

T=$(mktemp -d "${TMPDIR:-/var/tmp}/cairn-peers.XXXXXX")

# ---------------------------------------------------------------- measurements
declare -A WALL=() RSS=()  # key -> "s1 s2 ..." / max KiB
ROWS=()                    # key|tool|operation|K+M|input bytes|peer key|peer name|min speedup|check cairn RSS

# run_once KEY EXPECTED_STATUS CMD...: one timed run; dies on any other exit status.
run_once() {
    local key=$1 expect=$2 rc=0 t0 t1
    shift 2
    t0=$EPOCHREALTIME
    /usr/bin/time -v -o "$T/time.out" "$@" >/dev/null 2>"$T/stderr.out" || rc=$?
    t1=$EPOCHREALTIME
    if grep -q '^Command terminated by signal' "$T/time.out"; then
        rc="$(grep '^Command terminated by signal' "$T/time.out")"
    fi
    if [[ $rc != "$expect" ]]; then
        err "'$*' exited with status $rc, expected $expect; its stderr:"
        tail -n 20 "$T/stderr.out" >&2
        exit 1
    fi
    local wall rss
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$T/time.out")
    [[ $rss =~ ^[0-9]+$ ]] || die "could not parse the peak RSS of '$*' from /usr/bin/time -v"
    WALL[$key]="${WALL[$key]:-}$wall "
    if ((rss > ${RSS[$key]:-0})); then RSS[$key]=$rss; fi
    note "  $key: $(printf '%.3f' "$wall") s, peak RSS $((rss / 1024)) MiB"
}

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# add_row KEY TOOL OPERATION K+M INPUT_BYTES [PEER_KEY PEER_NAME MIN_SPEEDUP]
add_row() { ROWS+=("$1|$2|$3|$4|$5|${6:-}|${7:-}|${8:-}"); }

print_table() {
    local md=() r key tool op km bytes pkey pname target med mbs rssm ratio tgt rssres
    local n_pass=0 n_fail=0
    local hdr="tool|operation|K+M|input|wall s (median of $RUNS)|MB/s|peak RSS MiB|speed vs peer|speed target|RSS < 64 MiB"
    printf '\n%-6s %-30s %-5s %-9s %12s %8s %9s %-16s %-14s %-8s\n' \
        tool operation K+M input "wall s" "MB/s" "RSS MiB" "speed vs peer" "speed target" "RSS<64MiB"
    md+=("| ${hdr//|/ | } |" "|---|---|---|---|---:|---:|---:|---:|---|---|")
    for r in "${ROWS[@]}"; do
        IFS='|' read -r key tool op km bytes pkey pname target <<<"$r"
        [[ -n ${WALL[$key]:-} ]] || continue
        med=$(median "${WALL[$key]}")
        mbs=$(awk -v b="$bytes" -v s="$med" 'BEGIN { printf "%.0f", b / s / 1e6 }')
        rssm=$(awk -v k="${RSS[$key]}" 'BEGIN { printf "%.1f", k / 1024 }')
        ratio="" tgt="" rssres=""
        if [[ -n $pkey && -n ${WALL[$pkey]:-} ]]; then
            ratio=$(awk -v p="$(median "${WALL[$pkey]}")" -v c="$med" 'BEGIN { printf "%.2f", p / c }')
            if [[ -n $target ]]; then
                if awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r >= t) }'; then
                    tgt=">=${target}x PASS"; n_pass=$((n_pass + 1))
                else
                    tgt=">=${target}x FAIL"; n_fail=$((n_fail + 1))
                fi
            fi
            ratio="${ratio}x vs $pname"
        fi
        if [[ $tool == cairn ]]; then
            if ((${RSS[$key]} < RSS_LIMIT_KIB)); then
                rssres=PASS; n_pass=$((n_pass + 1))
            else
                rssres=FAIL; n_fail=$((n_fail + 1))
            fi
        fi
        printf '%-6s %-30s %-5s %-9s %12s %8s %9s %-16s %-14s %-8s\n' "$tool" "$op" "$km" \
            "$((bytes / 1048576)) MiB" "$(printf '%.3f' "$med")" "$mbs" "$rssm" "$ratio" "$tgt" "$rssres"
        md+=("| $tool | $op | $km | $((bytes / 1048576)) MiB | $(printf '%.3f' "$med") | $mbs | $rssm | $ratio | $tgt | $rssres |")
    done
    printf '\nMB/s = input file bytes / median wall; speed vs peer = peer wall / this wall.\n'
    printf 'targets: %d PASS, %d FAIL\n' "$n_pass" "$n_fail"
    local skipped=""
    for c in encode decode verify repair; do have "$c" || skipped+=" $c"; done
    [[ -z $skipped ]] || printf 'skipped (not available in this build): cairn%s\n' "$skipped"
    printf '\n### shards_vs_peers (%s, %s)\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$("$CAIRN" version 2>/dev/null | head -n 1 || echo cairn)"
    printf '%s\n' "${md[@]}"
    [[ -z $skipped ]] || printf '\nSkipped, not available in this build: cairn%s\n' "$skipped"
    if [[ -n ${MD_OUT:-} ]]; then printf '%s\n' "${md[@]}" >"$MD_OUT"; fi
    N_FAIL=$n_fail
}

N_FAIL=0
DONE=0
on_exit() {
    local rc=$?
    trap - EXIT
    if ((${#WALL[@]} > 0)); then
        ((DONE)) || echo "shards_vs_peers: stopped early (status $rc); the table so far:" >&2
        print_table || true
    fi
    rm -rf "$T"
    if ((rc != 0)); then
        echo "shards_vs_peers: FAILED (status $rc)${LAST_ERR:+: $LAST_ERR}" >&2
    fi
    if ((rc == 0 && ${STRICT:-0} == 1 && N_FAIL > 0)); then rc=2; fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers
# cairn_shard DIR BASENAME INDEX TOTAL: the path cairn encode gives shard INDEX (1-based).
cairn_shard() { printf '%s/%s.%0*d-of-%d.cairn' "$1" "$2" "${#4}" "$3" "$4"; }
# zfec_share DIR BASENAME SHARENUM TOTAL: the path of zfec_encode.py's share SHARENUM (0-based).
zfec_share() { printf '%s/%s.%0*d_%d.zfw' "$1" "$2" "${#4}" "$3" "$4"; }

check_cairn_shards() { # DIR BASENAME TOTAL
    local i f
    for ((i = 1; i <= $3; i++)); do
        f=$(cairn_shard "$1" "$2" "$i" "$3")
        [[ -f $f ]] || die "cairn encode did not write $f; $1 holds: $(find "$1" -maxdepth 1 -type f -printf '%f ')"
    done
    local n
    n=$(find "$1" -maxdepth 1 -type f | wc -l)
    ((n == $3)) || die "cairn encode wrote $n files into $1, expected $3: $(find "$1" -maxdepth 1 -type f -printf '%f ')"
}

same_file() { # EXPECTED ACTUAL WHAT
    cmp -s "$1" "$2" || die "$3: $2 differs from $1 ($(cmp "$1" "$2" 2>&1 | head -n 1))"
}

verify_healthy() { # DIR WHAT: untimed `cairn verify DIR`, which must exit 0
    local rc=0
    "$CAIRN" verify "$1" >/dev/null 2>"$T/stderr.out" || rc=$?
    ((rc == 0)) || { tail -n 20 "$T/stderr.out" >&2; die "$2: exited $rc, expected 0"; }
}

make_input() { # PATH MiB
    note "writing $2 MiB of random data to $1"
    head -c $(($2 * 1048576)) /dev/urandom >"$1"
    sync
}

# ---------------------------------------------------------------- 1. cairn vs zfec, verify vs cat
BIG_DIR="$T/big"
mkdir -p "$BIG_DIR"
BIG="$BIG_DIR/data.bin"
BIG_BASE=data.bin
BIG_BYTES=$((SIZE_MB * 1048576))
make_input "$BIG" "$SIZE_MB"

for km in 4+2 10+4; do
    k=${km%+*} m=${km#*+} n=$((${km%+*} + ${km#*+}))
    add_row "cairn.enc.$km" cairn "encode" "$km" "$BIG_BYTES" "zfec.enc.$km" zfec 5
    # zfec never flushes its shares to disk; cairn does by default. The --no-fsync row is the
    # like-for-like comparison, the default row what a user gets.
    add_row "cairn.encnf.$km" cairn "encode --no-fsync" "$km" "$BIG_BYTES" "zfec.enc.$km" zfec 5
    add_row "zfec.enc.$km" zfec "encode" "$km" "$BIG_BYTES"
    note "encode $km, $SIZE_MB MiB"
    for ((r = 1; r <= RUNS; r++)); do
        if have encode; then
            rm -rf "$T/c$km" && mkdir "$T/c$km" && sync
            run_once "cairn.enc.$km" 0 "$CAIRN" encode -k "$k" -m "$m" -o "$T/c$km" "$BIG"
            check_cairn_shards "$T/c$km" "$BIG_BASE" "$n"
            rm -rf "$T/c$km" && mkdir "$T/c$km" && sync
            run_once "cairn.encnf.$km" 0 "$CAIRN" encode --no-fsync -k "$k" -m "$m" -o "$T/c$km" "$BIG"
            check_cairn_shards "$T/c$km" "$BIG_BASE" "$n"
        fi
        rm -rf "$T/z$km" && mkdir "$T/z$km" && sync
        run_once "zfec.enc.$km" 0 "$PY" "$ZENC" -k "$k" -m "$n" -o "$T/z$km" "$BIG"
    done
done
rm -rf "$T/c10+4" "$T/z10+4"

# decode 4+2 with two data shards missing
add_row cairn.dec.4+2 cairn "decode, 2 data shards missing" 4+2 "$BIG_BYTES" zfec.dec.4+2 zfec 3
add_row zfec.dec.4+2 zfec "decode, 2 data shares missing" 4+2 "$BIG_BYTES"
note "decode 4+2 with shards 1 and 2 missing, $SIZE_MB MiB"
rm -f "$(zfec_share "$T/z4+2" "$BIG_BASE" 0 6)" "$(zfec_share "$T/z4+2" "$BIG_BASE" 1 6)"
if have encode; then
    mkdir "$T/cdeg"
    for i in 3 4 5 6; do cp "$(cairn_shard "$T/c4+2" "$BIG_BASE" "$i" 6)" "$T/cdeg/"; done
fi
for ((r = 1; r <= RUNS; r++)); do
    if have encode && have decode; then
        rm -f "$T/out.cairn" && sync
        run_once cairn.dec.4+2 0 "$CAIRN" decode -o "$T/out.cairn" "$T/cdeg"
        same_file "$BIG" "$T/out.cairn" "cairn decode (4+2, shards 1,2 missing)"
    fi
    rm -f "$T/out.zfec" && sync
    run_once zfec.dec.4+2 0 "$PY" "$ZDEC" -o "$T/out.zfec" "$T/z4+2"
    same_file "$BIG" "$T/out.zfec" "zfec decode (4+2, shares 0,1 missing)"
done
rm -rf "$T/out.cairn" "$T/out.zfec" "$T/z4+2"

if have encode && have verify; then
    # a degraded set must say so (exit 3) before we time the healthy one
    note "cairn verify of the degraded set (4 of 6 shards) must exit 3"
    run_once cairn.verify.degraded 3 "$CAIRN" verify "$T/cdeg"
    unset 'WALL[cairn.verify.degraded]' 'RSS[cairn.verify.degraded]'

    add_row cairn.verify.4+2 cairn "verify, healthy" 4+2 "$BIG_BYTES" cat.4+2 cat 1
    add_row cat.4+2 cat "cat shards >/dev/null" 4+2 "$BIG_BYTES"
    note "verify 4+2 vs cat of the same 6 shard files (alternating, warm page cache)"
    mapfile -t SHARDS < <(find "$T/c4+2" -maxdepth 1 -type f | sort)
    cat "${SHARDS[@]}" >/dev/null
    for ((r = 1; r <= RUNS; r++)); do
        run_once cat.4+2 0 cat "${SHARDS[@]}"
        run_once cairn.verify.4+2 0 "$CAIRN" verify "$T/c4+2"
    done
fi
rm -rf "$T/cdeg"

if have encode && have repair; then
    add_row cairn.repair.4+2 cairn "repair, 2 data shards missing" 4+2 "$BIG_BYTES"
    note "repair 4+2 with shards 1 and 2 deleted"
    for ((r = 1; r <= RUNS; r++)); do
        rm -rf "$T/crep" && mkdir "$T/crep"
        for i in 3 4 5 6; do cp "$(cairn_shard "$T/c4+2" "$BIG_BASE" "$i" 6)" "$T/crep/"; done
        sync
        run_once cairn.repair.4+2 0 "$CAIRN" repair "$T/crep"
        for i in 1 2 3 4 5 6; do
            same_file "$(cairn_shard "$T/c4+2" "$BIG_BASE" "$i" 6)" "$(cairn_shard "$T/crep" "$BIG_BASE" "$i" 6)" \
                "cairn repair (4+2): shard $i"
        done
        if have verify; then
            verify_healthy "$T/crep" "cairn verify after cairn repair (4+2)"
        fi
    done
    rm -rf "$T/crep"
fi
rm -rf "$T/c4+2" "$BIG_DIR"

# ---------------------------------------------------------------- 2. cairn vs par2 (33% recovery)
P_DIR="$T/p2"
mkdir -p "$P_DIR"
P_BASE=par2in.bin # par2 0.8.1 aborts on one-character file names
P="$P_DIR/$P_BASE"
P_ORIG="$T/par2in.orig"
P_BYTES=$((PAR2_MB * 1048576))
DMG_BYTES=$((P_BYTES / 100 / 4096 * 4096)) # about 1%, e.g. 2.5 MiB of 256 MiB
((DMG_BYTES > 0)) || DMG_BYTES=4096
make_input "$P_ORIG" "$PAR2_MB"
cp "$P_ORIG" "$P"
PAR2_FILE="$P.par2"

# zero_range FILE OFFSET_BYTES LEN_BYTES (4 KiB aligned)
zero_range() { dd if=/dev/zero of="$1" bs=4096 seek=$(($2 / 4096)) count=$(($3 / 4096)) conv=notrunc status=none; }

add_row cairn.enc.3+1 cairn "encode (33% recovery)" 3+1 "$P_BYTES" par2.create par2 50
add_row par2.create par2 "create -r33 -n1" r33 "$P_BYTES"
note "encode 3+1 vs par2 create -r33, $PAR2_MB MiB"
for ((r = 1; r <= RUNS; r++)); do
    if have encode; then
        rm -rf "$T/c3+1" && mkdir "$T/c3+1" && sync
        run_once cairn.enc.3+1 0 "$CAIRN" encode -k 3 -m 1 -o "$T/c3+1" "$P"
        check_cairn_shards "$T/c3+1" "$P_BASE" 4
    fi
    rm -f "$P_DIR"/*.par2 && sync
    run_once par2.create 0 par2 create -r33 -n1 -q "$PAR2_FILE" "$P"
done

add_row cairn.verify.3+1 cairn "verify, healthy" 3+1 "$P_BYTES" par2.verify par2
add_row par2.verify par2 "verify, healthy" r33 "$P_BYTES"
note "verify, healthy, $PAR2_MB MiB"
for ((r = 1; r <= RUNS; r++)); do
    if have encode && have verify; then run_once cairn.verify.3+1 0 "$CAIRN" verify "$T/c3+1"; fi
    run_once par2.verify 0 par2 verify -q "$PAR2_FILE"
done

# about 1% damaged: DMG_BYTES zeroed at 40% into the file (par2) or into shard 1 (cairn)
C_DMG_OFF=0
if have encode; then
    S1=$(cairn_shard "$T/c3+1" "$P_BASE" 1 4)
    C_DMG_OFF=$(($(stat -c %s "$S1") * 2 / 5 / 4096 * 4096))
    mkdir "$T/cdmg"
    cp "$T/c3+1"/* "$T/cdmg/"
    zero_range "$(cairn_shard "$T/cdmg" "$P_BASE" 1 4)" "$C_DMG_OFF" "$DMG_BYTES"
    cmp -s "$S1" "$(cairn_shard "$T/cdmg" "$P_BASE" 1 4)" && die "zeroing a range did not change shard 1"
fi
P_DMG_OFF=$((P_BYTES * 2 / 5 / 4096 * 4096))

add_row cairn.verify.dmg cairn "verify, 1% damaged (exit 3)" 3+1 "$P_BYTES" par2.verify.dmg par2
add_row par2.verify.dmg par2 "verify, 1% damaged (exit 1)" r33 "$P_BYTES"
note "verify, $DMG_BYTES bytes zeroed"
zero_range "$P" "$P_DMG_OFF" "$DMG_BYTES"
for ((r = 1; r <= RUNS; r++)); do
    if have encode && have verify; then run_once cairn.verify.dmg 3 "$CAIRN" verify "$T/cdmg"; fi
    run_once par2.verify.dmg 1 par2 verify -q "$PAR2_FILE"
done

add_row cairn.repair.3+1 cairn "repair, 1% damaged" 3+1 "$P_BYTES" par2.repair par2
add_row cairn.dec.dmg cairn "decode, 1% damaged" 3+1 "$P_BYTES" par2.repair par2
add_row par2.repair par2 "repair, 1% damaged" r33 "$P_BYTES"
note "repair / decode, $DMG_BYTES bytes zeroed"
for ((r = 1; r <= RUNS; r++)); do
    if have encode && have repair; then
        rm -rf "$T/crep" && mkdir "$T/crep" && cp "$T/cdmg"/* "$T/crep/" && sync
        run_once cairn.repair.3+1 0 "$CAIRN" repair "$T/crep"
        for i in 1 2 3 4; do
            same_file "$(cairn_shard "$T/c3+1" "$P_BASE" "$i" 4)" "$(cairn_shard "$T/crep" "$P_BASE" "$i" 4)" \
                "cairn repair (3+1, 1% of shard 1 zeroed): shard $i"
        done
        if have verify; then
            verify_healthy "$T/crep" "cairn verify after cairn repair (3+1)"
        fi
    fi
    if have encode && have decode; then
        rm -f "$T/out.cairn" && sync
        run_once cairn.dec.dmg 0 "$CAIRN" decode -o "$T/out.cairn" "$T/cdmg"
        same_file "$P_ORIG" "$T/out.cairn" "cairn decode (3+1, 1% of shard 1 zeroed)"
    fi
    cp "$P_ORIG" "$P" && zero_range "$P" "$P_DMG_OFF" "$DMG_BYTES" && rm -f "$P".[0-9]* && sync
    run_once par2.repair 0 par2 repair -q "$PAR2_FILE"
    same_file "$P_ORIG" "$P" "par2 repair"
done

DONE=1
note "done"
