#!/usr/bin/env bash
# Compares `cairn bench` figures of several cairn binaries (say, before and after a change) on this
# machine: ROUNDS rounds, each running every binary once in turn (`cairn bench LAYER --runs RUNS
# --json`), so that a disk or a neighbour that is faster or slower for a while favours none. Prints
# a markdown table: for each row, the median of all runs of each binary, the ratio of the last
# binary to the first, and the median of the references measured beside them.
#
# Usage: bench/compare.sh LAYER ROUNDS RUNS DIR NAME=CAIRN...
#   e.g. bench/compare.sh store 3 3 /var/tmp old=/tmp/cairn-old new=build/cairn
#   (one `bench store --runs 3` takes about 70 s on the project's 2-core VM)
set -euo pipefail
shopt -s inherit_errexit
if (( $# < 5 )); then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
LAYER=$1 ROUNDS=$2 RUNS=$3 DIR=$4
shift 4
W=$(mktemp -d "${TMPDIR:-/tmp}/cairn-compare.XXXXXX")
trap 'rm -rf "$W"' EXIT
names=()
for spec in "$@"; do
  name=${spec%%=*} bin=${spec#*=}
  [[ -x $bin ]] || { echo "compare: $bin is not an executable" >&2; exit 2; }
  names+=("$name")
done
for ((r = 1; r <= ROUNDS; r++)); do
  for spec in "$@"; do
    name=${spec%%=*} bin=${spec#*=}
    echo "round $r: $name" >&2
    "$bin" bench "$LAYER" --runs "$RUNS" --dir "$DIR" --json >"$W/$name-$r.json"
  done
done
python3 - "$W" "${names[@]}" <<'PY'
import collections, glob, json, statistics, sys
w, names = sys.argv[1], sys.argv[2:]
runs = collections.defaultdict(lambda: collections.defaultdict(list))
refs = collections.defaultdict(list)
units, order = {}, []
for name in names:
    for f in sorted(glob.glob(f"{w}/{name}-*.json")):
        for row in json.load(open(f)):
            key = row["name"]
            if key not in units:
                order.append(key)
            units[key] = row["unit"]
            runs[key][name] += row["runs"]
            if row.get("reference_median"):
                refs[key].append(row["reference_median"])
fmt = lambda x: "-" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:.3f}")
med = lambda xs: statistics.median(xs) if xs else None
print("| row | unit | " + " | ".join(names) + f" | {names[-1]} / {names[0]} | reference |")
print("|---|---|" + "---:|" * (len(names) + 2))
for key in order:
    m = [med(runs[key][n]) for n in names]
    ratio = f"{m[-1] / m[0]:.2f}" if m[0] and m[-1] else "-"
    print(f"| {key} | {units[key]} | " + " | ".join(fmt(x) for x in m) +
          f" | {ratio} | {fmt(med(refs[key]))} |")
PY
