#!/usr/bin/env bash
# Peak memory of pushing and pulling a large (default 50 MB) chart package against the
# emulator: streaming means it must not grow with the package. Prints one line per command.
#   scripts/bench-memory.sh [SIZE_MB]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
size_mb=${1:-50}
cd "$root"
cargo build --release --quiet --bin helm-ccr -p helm-ccr
cargo build --release --quiet --bin ccr-emulator -p ccr-emulator
work=$(mktemp -d)
emu_pid=""
cleanup() { [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$root/target/release/ccr-emulator" --port 0 --keys BENCHAK:BENCHSK >"$work/url" 2>"$work/emu.err" &
emu_pid=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -n1 "$work/url")

# A package of incompressible data, so its size on the wire is what we ask for.
python3 - "$work/big-1.0.0.tgz" "$size_mb" <<'PY'
import io, os, sys, tarfile
path, size_mb = sys.argv[1], int(sys.argv[2])
with tarfile.open(path, "w:gz", compresslevel=1) as t:
    meta = b"apiVersion: v2\nname: big\nversion: 1.0.0\n"
    info = tarfile.TarInfo("big/Chart.yaml"); info.size = len(meta)
    t.addfile(info, io.BytesIO(meta))
    chunk = 4 * 1024 * 1024
    for i in range((size_mb * 1024 * 1024) // chunk):
        data = os.urandom(chunk)
        info = tarfile.TarInfo(f"big/files/blob{i}.bin"); info.size = len(data)
        t.addfile(info, io.BytesIO(data))
PY

# Runs a command and prints its peak resident set size in MiB. GNU time forks from a small
# process, so the figure is the command's own (a fork from python would count python's pages).
if [ ! -x /usr/bin/time ]; then
  echo "bench-memory.sh: needs GNU time (/usr/bin/time); on Debian: apt-get install time" >&2
  exit 1
fi
peak() {
  local kb
  kb=$(/usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n1)
  awk -v kb="$kb" 'BEGIN { printf "%.1f\n", kb / 1024 }'
}

export HOME="$work" BCE_ACCESS_KEY_ID=BENCHAK BCE_SECRET_ACCESS_KEY=BENCHSK HELM_CCR_ENDPOINT="$url"
bytes=$(stat -c %s "$work/big-1.0.0.tgz")
mkdir -p "$work/out"
push_mb=$(peak "$root/target/release/helm-ccr" push "$work/big-1.0.0.tgz" ccr://bench/bench)
pull_mb=$(peak "$root/target/release/helm-ccr" pull ccr://bench/bench/big -d "$work/out")
cmp -s "$work/big-1.0.0.tgz" "$work/out/big-1.0.0.tgz" || { echo "pulled bytes differ" >&2; exit 1; }
echo "package: $bytes bytes"
echo "push peak RSS: ${push_mb} MiB"
echo "pull peak RSS: ${pull_mb} MiB"
