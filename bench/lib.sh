# What the benchmark scripts share, sourced (never run): a scratch directory removed on exit with
# every process started through bench_start, free loopback ports, and waiting for a server to
# answer HTTP. The caller sets BENCH_NAME (its messages' prefix) first.
#   bench_scratch BASE      T=<a new directory under BASE>; T and the servers go on exit
#   free_port               prints a free loopback TCP port
#   wait_port PID PORT      until something answers HTTP on PORT (fails if PID died, or after 20 s)
#   bench_start NAME CMD... runs CMD in the background with every @PORT@ in it replaced by a free
#                           port, logs to $T/NAME.log, waits for it and sets URL[NAME]; on failure
#                           prints the log's tail and returns 1 (the caller decides to stop or not)
#   median N...             the median of the numbers given
declare -A URL
PIDS=()
source "$(dirname "${BASH_SOURCE[0]}")/../tests/kill_ours.sh"

bench_cleanup() {
  local p
  kill_ours TERM "${PIDS[@]}"
  wait 2>/dev/null || true
  [[ -n ${T:-} ]] && rm -rf "$T"
}

bench_scratch() {
  T=$(mktemp -d "$1/${BENCH_NAME:-bench}.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM  # so that the EXIT trap runs (bash skips it on a deadly signal)
  export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost AWS_PAGER=""
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$1" 2>/dev/null || return 1
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/") != 000 ]] && return 0
    sleep 0.1
  done
  return 1
}

bench_start() {
  local name=$1 port
  shift
  port=$(free_port)
  "${@//@PORT@/$port}" >"$T/$name.log" 2>&1 &
  PIDS+=($!)
  if wait_port $! "$port"; then
    URL[$name]=http://127.0.0.1:$port
    return 0
  fi
  echo "${BENCH_NAME:-bench}: $name did not start: $(tail -c 300 "$T/$name.log")" >&2
  return 1
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) { print "nan"; exit }
    print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
