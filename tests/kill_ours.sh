# kill_ours SIGNAL PID...: sends SIGNAL to each PID that is still a child of this shell (or of the
# subshell calling it); any other PID is left alone. Sourced (never run) by the test and benchmark
# scripts, whose cleanups signal every process they started.
#
# Why: bash reaps a background child as soon as it exits, and its number is then free. With
# pid_max at 32768 and a dozen scripts starting thousands of processes side by side, the number
# comes round again within a minute: a cleanup that kills a stale PID kills another test's server
# or the unit tests (CI saw both die at once, by SIGKILL, at one script's exit).
#   kill_group_ours SIGNAL PID...  the same for the process groups led by each PID (setsid), sent
#                                  also when PID is gone (a group outlives its leader, and its
#                                  number is not given to a new process while the group lives)
_pid_parent() {
  local s
  { s=$(</proc/"$1"/stat); } 2>/dev/null || return 1
  s=${s##*) }  # past "PID (COMM) ", COMM may hold spaces and parentheses
  read -r _ _parent _ <<<"$s"
}
_is_ours() {
  local _parent
  _pid_parent "$1" && [[ $_parent == "$$" || $_parent == "$BASHPID" ]]
}
kill_ours() {
  local sig=$1 p
  shift
  for p in "$@"; do
    [[ -n $p ]] && _is_ours "$p" && kill "-$sig" "$p" 2>/dev/null
  done
  return 0
}
kill_group_ours() {
  local sig=$1 p _parent
  shift
  for p in "$@"; do
    [[ -z $p ]] && continue
    if _pid_parent "$p" && [[ $_parent != "$$" && $_parent != "$BASHPID" ]]; then continue; fi
    kill "-$sig" -- "-$p" 2>/dev/null
  done
  return 0
}
