# shellcheck shell=bash
# TAP-style checks shared by the end-to-end scripts (sourced, not run). The sourcing script
# sets `work` (a temporary directory) and `checks_name` (its name, for messages).

passed=0
failed=0

# check NAME CMD...: runs CMD with its output in a log; shows the log when it fails
# (and, with E2E_VERBOSE=1, when it passes too).
check() {
  local name=$1
  shift
  local log="${work:?}/check.log"
  if "$@" >"$log" 2>&1; then
    echo "ok - $name"
    if [ "${E2E_VERBOSE:-0}" = 1 ]; then sed 's/^/    # /' "$log"; fi
    passed=$((passed + 1))
  else
    echo "not ok - $name"
    sed 's/^/    # /' "$log" | tail -n 40
    failed=$((failed + 1))
  fi
}

# skip NAME REASON: a check this machine cannot run (TAP's SKIP directive).
skipped=""
skip() {
  echo "ok - $1 # SKIP $2"
  skipped=$((${skipped:-0} + 1))
}

# fatal MESSAGE: a setup step failed; nothing after it can run.
fatal() {
  echo "${checks_name:?}: setup failed: $*" >&2
  echo "$checks_name: $passed passed, $((failed + 1)) failed"
  exit 1
}
