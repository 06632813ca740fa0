#!/usr/bin/env bash
# Packaging speed: our packaging of a generated chart (about 2,000 files, 20 MB) through
# `helm-ccr push DIR REPO --dry-run` (packages, then only checks whether the version exists,
# against the local CCR emulator) versus `helm package DIR`. Prints the median wall time of
# each over RUNS runs (default 5) and the ratio ours/helm.
#   scripts/bench.sh [RUNS]
# Environment: HELM (the helm binary; default: the pinned Helm 3.17.3 from scripts/install-helm.sh),
# BENCH_ENDPOINT (use this endpoint instead of starting the emulator).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
orig_home=$HOME
runs=${1:-5}
cd "$root"
helm_bin=${HELM:-${HELM_CCR_TEST_HELM3:-$root/.cache/helm/3.17.3/helm}}
[ -x "$helm_bin" ] || { echo "bench: no helm at $helm_bin (run scripts/install-helm.sh or set HELM)" >&2; exit 1; }

cargo build --release --quiet --bin helm-ccr -p helm-ccr
work=$(mktemp -d)
emu_pid=""
cleanup() { [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

if [ -n "${BENCH_ENDPOINT:-}" ]; then
  endpoint=$BENCH_ENDPOINT
else
  cargo build --release --quiet --bin ccr-emulator -p ccr-emulator
  "$root/target/release/ccr-emulator" --port 0 --keys BENCHAK:BENCHSK >"$work/url" 2>"$work/emu.err" &
  emu_pid=$!
  for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
  endpoint=$(head -n1 "$work/url")
  [ -n "$endpoint" ] || { echo "bench: the emulator did not start:" >&2; cat "$work/emu.err" >&2; exit 1; }
fi

# The chart: 2,000 files of mixed text (compressible, like real charts) and some binary data,
# about 20 MB in all, in nested directories.
chart="$work/benchchart"
python3 - "$chart" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(42)
os.makedirs(os.path.join(root, "templates"))
with open(os.path.join(root, "Chart.yaml"), "w") as f:
    f.write("apiVersion: v2\nname: benchchart\nversion: 1.0.0\nappVersion: \"1.0\"\n")
with open(os.path.join(root, "values.yaml"), "w") as f:
    f.write("replicas: 1\n")
words = [("word%d" % i) for i in range(500)]
total = 0
for i in range(1997):
    d = os.path.join(root, "files", "d%02d" % (i % 40), "e%d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "f%04d.txt" % i if i % 5 else "f%04d.bin" % i)
    if i % 5:
        text = " ".join(rnd.choice(words) for _ in range(1500)) + "\n"
        data = text.encode()
    else:
        data = rnd.randbytes(10 * 1024)
    with open(p, "wb") as f:
        f.write(data)
    total += len(data)
print(f"chart: {sum(len(fs) for _, _, fs in os.walk(root))} files, {total // (1024 * 1024)} MiB", file=sys.stderr)
PY

export HOME="$work/home" BCE_ACCESS_KEY_ID=BENCHAK BCE_SECRET_ACCESS_KEY=BENCHSK
mkdir -p "$HOME" "$work/out"

# Median wall time (seconds) of RUNS runs of a command.
median() {
  python3 - "$runs" "$@" <<'PY'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(runs):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    times.append(time.perf_counter() - t)
    if r.returncode != 0:
        sys.exit("bench: failed: %s\n%s" % (" ".join(cmd), r.stderr.decode(errors="replace")))
print("%.4f" % statistics.median(times))
PY
}

ours=$(median "$root/target/release/helm-ccr" push "$chart" ccr://bench/bench --dry-run --endpoint "$endpoint")
theirs=$(median "$helm_bin" package "$chart" -d "$work/out")
python3 - "$ours" "$theirs" "$runs" <<'PY'
import sys
ours, theirs, runs = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
print(f"helm-ccr push --dry-run: {ours:.3f}s (median of {runs})")
print(f"helm package:            {theirs:.3f}s (median of {runs})")
print(f"ratio ours/helm:         {ours / theirs:.2f}")
PY

# Peak memory of packaging the same chart, ours and Helm's (GNU time's maximum RSS).
if [ -x /usr/bin/time ]; then
  ours_kb=$(/usr/bin/time -f '%M' "$root/target/release/helm-ccr" push "$chart" ccr://bench/bench --dry-run --endpoint "$endpoint" 2>&1 >/dev/null | tail -n1)
  theirs_kb=$(/usr/bin/time -f '%M' "$helm_bin" package "$chart" -d "$work/out" 2>&1 >/dev/null | tail -n1)
  awk -v o="$ours_kb" -v t="$theirs_kb" 'BEGIN {
    printf "peak RSS ours:           %.1f MiB\n", o / 1024
    printf "peak RSS helm package:   %.1f MiB\n", t / 1024
  }'
else
  echo "peak RSS: skipped (no GNU time at /usr/bin/time; apt-get install time)"
fi
echo "push/pull of a 50 MB package (scripts/bench-memory.sh):"
HOME="$orig_home" "$root/scripts/bench-memory.sh" 50 | sed 's/^/  /'
