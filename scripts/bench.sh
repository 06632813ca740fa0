#!/usr/bin/env bash
# Every performance figure of helm-ccr, each as a ratio against its yardstick, in one run:
#   - packaging vs `helm package` (Helm 4.1.4) on a generated 2,000-file chart and on the
#     largest chart of the corpus (tests/charts/valid), and the compressed size ratio;
#   - the ccr:// index of 300 charts x 10 versions against an emulator that delays every answer
#     by 20 ms, vs the sequential floor (requests x latency), with the request count checked;
#   - `serve` of that namespace: the cached index to 100 concurrent keep-alive clients (median
#     and p99 latency, requests/s), serve's peak RSS with it indexed and 100 packages cached,
#     and the requests of an incremental refresh of it unchanged vs those of the full build;
#   - `copy --all` of 40 charts x 5 versions between two namespaces of the 20 ms emulator, vs
#     the sequential floor (requests x latency), the requests counted at the emulator;
#   - a 40-chart multi-push vs the one-by-one loop 40 x (`helm package` + `helm-ccr push` of the
#     .tgz);
#   - peak RSS of pushing and pulling a 50 MB package, and of packaging;
#   - start-up: `helm-ccr version` vs `helm version`.
# Timed figures are medians of PAIRS pairs run alternately (ours, yardstick, ours, ...; the
# ratio is taken pair by pair), after one warm-up of each.
#   scripts/bench.sh [PAIRS]          (default 5, at least 5)
# Environment: HELM (the helm binary; default: the pinned Helm 4.1.4 of scripts/install-helm.sh).
# CARGO_TARGET_DIR is honoured (the binaries are taken from where cargo builds them).
# Needs python3 and GNU time (/usr/bin/time; Debian: apt-get install time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pairs=${1:-5}
cd "$root"
if ! [[ $pairs =~ ^[0-9]+$ ]] || [ "$pairs" -lt 5 ]; then
  echo "bench: PAIRS must be a number, at least 5 (got $pairs)" >&2
  exit 2
fi
helm_bin=${HELM:-${HELM_CCR_TOOLS_CACHE:-$root/.cache}/helm/4.1.4/helm}
if [ ! -x "$helm_bin" ] && [ -z "${HELM:-}" ]; then
  scripts/install-helm.sh >&2
fi
[ -x "$helm_bin" ] || { echo "bench: no helm at $helm_bin (run scripts/install-helm.sh or set HELM)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: needs GNU time at /usr/bin/time (Debian: apt-get install time)" >&2; exit 1; }

cargo build --release --locked --quiet -p helm-ccr --bin helm-ccr
cargo build --release --locked --quiet -p ccr-emulator --bin ccr-emulator
bin=${CARGO_TARGET_DIR:-$root/target}/release
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Two emulators: one answering at once, one delaying every answer by 20 ms.
start_emulator() { # NAME [ARGS...]
  local name=$1
  shift
  "$bin/ccr-emulator" --port 0 --keys BENCHAK:BENCHSK "$@" >"$work/$name.url" 2>"$work/$name.err" &
  pids+=($!)
  for _ in $(seq 50); do [ -s "$work/$name.url" ] && break; sleep 0.1; done
  [ -s "$work/$name.url" ] || { echo "bench: the emulator did not start:" >&2; cat "$work/$name.err" >&2; exit 1; }
}
start_emulator fast
start_emulator slow --latency-ms 20

export BENCH_WORK=$work BENCH_PAIRS=$pairs BENCH_HELM=$helm_bin
export BENCH_CCR=$bin/helm-ccr BENCH_ROOT=$root
BENCH_FAST=$(head -n1 "$work/fast.url")
BENCH_SLOW=$(head -n1 "$work/slow.url")
export BENCH_FAST BENCH_SLOW
export HOME=$work/home BCE_ACCESS_KEY_ID=BENCHAK BCE_SECRET_ACCESS_KEY=BENCHSK
# Helm's homes follow HOME only when no XDG_*_HOME or HELM_*_HOME points elsewhere.
unset HELM_CCR_ENDPOINT HELM_CCR_PARALLEL HELM_DEBUG SOURCE_DATE_EPOCH \
  XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME HELM_CONFIG_HOME HELM_CACHE_HOME HELM_DATA_HOME \
  HELM_PLUGINS HELM_REPOSITORY_CONFIG HELM_REPOSITORY_CACHE HELM_REGISTRY_CONFIG GNUPGHOME
mkdir -p "$HOME"

python3 - <<'PY'
import atexit, http.client, io, json, math, os, random, shutil, statistics, subprocess, sys
import tarfile, threading, time, urllib.request

W = os.environ["BENCH_WORK"]
PAIRS = int(os.environ["BENCH_PAIRS"])
HELM = os.environ["BENCH_HELM"]
CCR = os.environ["BENCH_CCR"]
ROOT = os.environ["BENCH_ROOT"]
FAST = os.environ["BENCH_FAST"]
SLOW = os.environ["BENCH_SLOW"]
LATENCY_MS = 20
rows = []
problems = []


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def run(cmd, env_extra=None, out=False):
    """Runs a command, fails the bench if it fails; returns (seconds, stdout)."""
    env = dict(os.environ, **(env_extra or {}))
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE if out else subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit("bench: failed: %s\n%s" % (" ".join(cmd), r.stderr.decode(errors="replace")))
    return dt, r.stdout


def spawn_time(cmd):
    """Wall seconds of a command started with posix_spawn, its output to /dev/null: the least
    overhead Python allows, for figures of a few milliseconds."""
    null = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    t = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=null)
    _, status, _ = os.wait4(pid, 0)
    dt = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("bench: failed: %s" % " ".join(cmd))
    return dt


def peak_mib(cmd, env_extra=None):
    """Peak resident set of a command in MiB, from GNU time (a small parent process)."""
    env = dict(os.environ, **(env_extra or {}))
    f = os.path.join(W, "time.out")
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f] + cmd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("bench: failed: %s\n%s" % (" ".join(cmd), r.stderr.decode(errors="replace")))
    return int(open(f).read().split()[-1]) / 1024


def paired(a, b, n=PAIRS):
    """Median of a, of b and of a/b over n pairs run alternately, after a warm-up of each."""
    a(), b()
    ta, tb, ratios = [], [], []
    for _ in range(n):
        x = a()
        y = b()
        ta.append(x), tb.append(y), ratios.append(x / y)
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios)


def row(figure, ours, yardstick, ratio, target, ok):
    rows.append((figure, ours, yardstick, ratio, target, "ok" if ok else "MISSED"))


def admin(base, method, path):
    req = urllib.request.Request(base + path, method=method)
    with urllib.request.urlopen(req) as r:
        body = r.read()
    return json.loads(body) if body else None


def gen_chart(path, name, files, seed):
    """A chart like a big real one: mostly text, every fifth file 10 KiB of noise, nested."""
    rnd = random.Random(seed)
    os.makedirs(os.path.join(path, "templates"))
    with open(os.path.join(path, "Chart.yaml"), "w") as f:
        f.write(f'apiVersion: v2\nname: {name}\nversion: 1.0.0\nappVersion: "1.0"\n')
    with open(os.path.join(path, "values.yaml"), "w") as f:
        f.write("replicas: 1\n")
    words = ["word%d" % i for i in range(500)]
    total = 0
    for i in range(files):
        d = os.path.join(path, "files", "d%02d" % (i % 40), "e%d" % (i % 7))
        os.makedirs(d, exist_ok=True)
        if i % 5:
            data = (" ".join(rnd.choice(words) for _ in range(1500)) + "\n").encode()
            p = os.path.join(d, "f%04d.txt" % i)
        else:
            data = rnd.randbytes(10 * 1024)
            p = os.path.join(d, "f%04d.bin" % i)
        with open(p, "wb") as f:
            f.write(data)
        total += len(data)
    return total


def tiny_tgz(path, name, version):
    with tarfile.open(path, "w:gz") as t:
        meta = f"apiVersion: v2\nname: {name}\nversion: {version}\n".encode()
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(meta)
        t.addfile(info, io.BytesIO(meta))


print(f"helm-ccr benchmark: {os.cpu_count()} cores, load average at start {load()}; "
      f"{PAIRS} pairs; yardstick {HELM}", flush=True)

# --- Packaging -------------------------------------------------------------------------------
fast = {"HELM_CCR_ENDPOINT": FAST}
chart = os.path.join(W, "benchchart")
size = gen_chart(chart, "benchchart", 1997, 42)
nfiles = sum(len(fs) for _, _, fs in os.walk(chart))
corpus = os.path.join(ROOT, "tests", "charts", "valid")
largest = max((os.path.join(corpus, d) for d in os.listdir(corpus)),
              key=lambda d: sum(os.path.getsize(os.path.join(r, f))
                                for r, _, fs in os.walk(d) for f in fs))
out_dir = os.path.join(W, "out")


def ours_package(d):
    return lambda: run([CCR, "push", d, "ccr://bench/pkg", "--dry-run"], fast)[0]


def helm_package(d):
    def f():
        shutil.rmtree(out_dir, ignore_errors=True)
        return run([HELM, "package", d, "-d", out_dir])[0]
    return f


o, h, r = paired(ours_package(chart), helm_package(chart))
row(f"packaging, generated chart ({nfiles} files, {size / 2**20:.0f} MiB)",
    f"{o:.3f} s", f"{h:.3f} s helm package", r, "<= 0.25", r <= 0.25)
_, text = run([CCR, "push", chart, "ccr://bench/pkg", "--dry-run"], fast, out=True)
ours_bytes = int(text.decode().split("(", 1)[1].split(" bytes", 1)[0])
theirs_bytes = os.path.getsize(os.path.join(out_dir, "benchchart-1.0.0.tgz"))
sr = ours_bytes / theirs_bytes
row("compressed size, generated chart", f"{ours_bytes} B", f"{theirs_bytes} B helm package",
    sr, "<= 1.02", sr <= 1.02)
o, h, r = paired(ours_package(largest), helm_package(largest))
row(f"packaging, largest corpus chart ({os.path.basename(largest)})",
    f"{o * 1000:.1f} ms", f"{h * 1000:.1f} ms helm package", r, "-", True)
po = peak_mib([CCR, "push", chart, "ccr://bench/pkg", "--dry-run"], fast)
ph = peak_mib([HELM, "package", chart, "-d", out_dir])
row("peak RSS, packaging the generated chart", f"{po:.1f} MiB", f"{ph:.1f} MiB helm package",
    po / ph, "-", True)

# --- Index of 300 charts x 10 versions at 20 ms a request -------------------------------------
seed_dir = os.path.join(W, "seed")
os.makedirs(seed_dir)
seeds = []
for c in range(300):
    for v in range(10):
        p = os.path.join(seed_dir, f"c{c:03d}-1.{v}.0.tgz")
        tiny_tgz(p, f"c{c:03d}", f"1.{v}.0")
        seeds.append(p)
run([CCR, "push", *seeds, "ccr://bench/idx"], {"HELM_CCR_ENDPOINT": SLOW, "HELM_CCR_PARALLEL": "64"})
expected = math.ceil(300 / 100) + 300


def index_once():
    admin(SLOW, "DELETE", "/_emulator/requests")
    dt, text = run([CCR, "download", "", "", "", "ccr://bench/idx/index.yaml"],
                   {"HELM_CCR_ENDPOINT": SLOW}, out=True)
    sent = len(admin(SLOW, "GET", "/_emulator/requests"))
    entries = text.decode().count("\n  - apiVersion:")
    if sent != expected or entries != 3000:
        problems.append(f"index: {sent} requests (expected {expected}), {entries} entries (expected 3000)")
    return dt, sent


index_once()
runs = [index_once() for _ in range(PAIRS)]
t = statistics.median(dt for dt, _ in runs)
sent = runs[-1][1]
floor = sent * LATENCY_MS / 1000
r = t / floor
row(f"index 300 x 10 at {LATENCY_MS} ms, {sent} requests "
    f"({'as expected' if all(s == expected for _, s in runs) else 'WRONG COUNT'})",
    f"{t:.3f} s", f"{floor:.2f} s floor ({sent} x {LATENCY_MS} ms)", r, "<= 0.0833", r <= 1 / 12)

# --- serve of that namespace: refresh, peak RSS, 100 concurrent clients -----------------------
serving = []


def stop_serving():
    for p in serving:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


atexit.register(stop_serving)


def get(host, path, conn=None):
    """GET over http.client (keep-alive on `conn` when given); returns (status, headers, body)."""
    c = conn or http.client.HTTPConnection(host, timeout=120)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    if conn is None:
        c.close()
    return r.status, r, body


def metric(host, name):
    """The first value of a counter or gauge of serve's /metrics."""
    for line in get(host, "/metrics")[2].decode().splitlines():
        if line.split("{")[0].split(" ")[0] == name:
            return float(line.split()[-1])
    sys.exit(f"bench: serve's /metrics has no {name}")


def start_serve(name, *flags):
    """Starts `helm-ccr serve` of ccr://bench/idx on the 20 ms emulator; returns the process
    and its host:port once its first index is built (/readyz)."""
    log = os.path.join(W, f"{name}.log")
    with open(log, "wb") as err:
        p = subprocess.Popen([CCR, "serve", "ccr://bench/idx", "--listen", "127.0.0.1:0",
                              "--cache-dir", os.path.join(W, f"{name}-cache"), *flags],
                             stdout=subprocess.PIPE, stderr=err,
                             env=dict(os.environ, HELM_CCR_ENDPOINT=SLOW))
    serving.append(p)
    url = p.stdout.readline().decode().strip()
    if not url.startswith("http://"):
        sys.exit(f"bench: serve did not start:\n{open(log, errors='replace').read()}")
    host = url.split("//", 1)[1]
    deadline = time.monotonic() + 120
    while get(host, "/readyz")[0] != 200:
        if p.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"bench: serve's index was not built:\n{open(log, errors='replace').read()}")
        time.sleep(0.05)
    return p, host


def stop(p):
    p.terminate()
    p.wait(30)


def entries(body):
    return body.decode().count("\n  - apiVersion:")


# Incremental refresh of the unchanged namespace vs the full build serve made at start-up.
admin(SLOW, "DELETE", "/_emulator/requests")
proc, host = start_serve("refresh", "--index-ttl", "1s", "--full-refresh", "1h")
full_sent = len(admin(SLOW, "GET", "/_emulator/requests"))
full_s = metric(host, "helm_ccr_serve_index_build_seconds")
status, first, body = get(host, "/index.yaml")
etag = first.getheader("ETag")
if status != 200 or entries(body) != 3000 or full_sent != expected:
    problems.append(f"serve: first build {full_sent} requests (expected {expected}), "
                    f"index {status} with {entries(body)} entries (expected 3000)")
refreshes = []
for _ in range(PAIRS):
    builds = metric(host, "helm_ccr_serve_index_builds_total")
    time.sleep(1.2)  # past --index-ttl: the next request refreshes the index first
    admin(SLOW, "DELETE", "/_emulator/requests")
    t = time.perf_counter()
    status, r, body = get(host, "/index.yaml")
    dt = time.perf_counter() - t
    sent = len(admin(SLOW, "GET", "/_emulator/requests"))
    if metric(host, "helm_ccr_serve_index_builds_total") != builds + 1:
        problems.append("serve: asking for the index past --index-ttl did not refresh it once")
    if status != 200 or r.getheader("ETag") != etag or entries(body) != 3000:
        problems.append("serve: the refreshed index of the unchanged namespace differs")
    refreshes.append((dt, sent))
stop(proc)
t = statistics.median(dt for dt, _ in refreshes)
sent = max(s for _, s in refreshes)
r = sent / full_sent
row(f"serve: refresh of the unchanged 300 x 10 at {LATENCY_MS} ms "
    f"({'steady' if len({s for _, s in refreshes}) == 1 else 'COUNT VARIES'})",
    f"{sent} requests, {t * 1000:.0f} ms", f"{full_sent} requests full build, {full_s:.2f} s",
    r, "<= 0.05", r <= 0.05)

# Peak RSS with the namespace indexed and 100 distinct packages fetched (10 clients at once),
# then the cached index to 100 keep-alive clients at once.
proc, host = start_serve("serve", "--index-ttl", "1h")
files = [f"c{c:03d}-1.{c % 10}.0.tgz" for c in range(100)]
lock = threading.Lock()


def fetch_packages(part):
    conn = http.client.HTTPConnection(host, timeout=120)
    for f in part:
        status, _, body = get(host, f"/charts/{f}", conn)
        if status != 200 or body != open(os.path.join(seed_dir, f), "rb").read():
            with lock:
                problems.append(f"serve: /charts/{f} answered {status} or other bytes")
    conn.close()


threads = [threading.Thread(target=fetch_packages, args=(files[i::10],)) for i in range(10)]
for th in threads:
    th.start()
for th in threads:
    th.join()
misses = metric(host, "helm_ccr_serve_cache_misses_total")
if misses != 100:
    problems.append(f"serve: {misses:.0f} package downloads for 100 packages")


def peak_of(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    sys.exit("bench: no VmHWM in /proc")


hwm = peak_of(proc.pid)
row("peak RSS, serve with 300 x 10 indexed and 100 packages cached", f"{hwm:.1f} MiB",
    "50 MiB", hwm / 50, "<= 1", hwm <= 50)

CLIENTS, EACH = 100, 4 * PAIRS
index_size = len(get(host, "/index.yaml")[2])
latencies = []
start = threading.Barrier(CLIENTS + 1, timeout=300)


def index_client():
    mine = []
    try:
        conn = http.client.HTTPConnection(host, timeout=120)
        get(host, "/index.yaml", conn)  # the connection is open before the clock starts
        start.wait()
        for _ in range(EACH):
            t = time.perf_counter()
            status, r, body = get(host, "/index.yaml", conn)
            mine.append(time.perf_counter() - t)
            if status != 200 or len(body) != index_size or r.will_close:
                raise RuntimeError(f"{status}, {len(body)} bytes, will close: {r.will_close}")
        conn.close()
    except Exception as e:  # any failure is the bench's to report
        start.abort()
        with lock:
            problems.append(f"serve: an index client failed: {e!r}")
    with lock:
        latencies.extend(mine)


threads = [threading.Thread(target=index_client) for _ in range(CLIENTS)]
for th in threads:
    th.start()
try:
    start.wait()
except threading.BrokenBarrierError:
    pass
t = time.perf_counter()
for th in threads:
    th.join()
wall = time.perf_counter() - t
hwm_after = peak_of(proc.pid)
stop(proc)
if len(latencies) == CLIENTS * EACH:
    med = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100)[98]
    row(f"serve: cached index ({index_size / 1024:.0f} KiB), {CLIENTS} keep-alive clients x "
        f"{EACH} (serve's peak RSS after: {hwm_after:.1f} MiB)",
        f"median {med * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
        f"{len(latencies) / wall:.0f} requests/s", None, "-", True)

# --- copy --all of 40 charts x 5 versions at 20 ms a request ----------------------------------
copy_seeds = []
for c in range(40):
    for v in range(5):
        p = os.path.join(seed_dir, f"k{c:02d}-1.{v}.0.tgz")
        tiny_tgz(p, f"k{c:02d}", f"1.{v}.0")
        copy_seeds.append(p)
run([CCR, "push", *copy_seeds, "ccr://bench/cpsrc"],
    {"HELM_CCR_ENDPOINT": SLOW, "HELM_CCR_PARALLEL": "64"})
copies = [0]


def copy_once():
    copies[0] += 1
    admin(SLOW, "DELETE", "/_emulator/requests")
    dt, text = run([CCR, "copy", "ccr://bench/cpsrc", f"ccr://bench/cpdst{copies[0]}", "--all",
                    "-o", "json"], {"HELM_CCR_ENDPOINT": SLOW}, out=True)
    sent = admin(SLOW, "GET", "/_emulator/requests")
    uploads = sum(1 for r in sent if r["method"] == "POST")
    copied = sum(1 for r in json.loads(text) if r["action"] == "copied")
    if copied != 200 or uploads != 200:
        problems.append(f"copy --all: {copied} copied, {uploads} uploads (expected 200 each)")
    return dt, len(sent)


copy_once()
runs = [copy_once() for _ in range(PAIRS)]
t = statistics.median(dt for dt, _ in runs)
sent = runs[-1][1]
floor = sent * LATENCY_MS / 1000
r = t / floor
row(f"copy --all 40 x 5 at {LATENCY_MS} ms, {sent} requests "
    f"({'steady' if len({s for _, s in runs}) == 1 else 'COUNT VARIES'})",
    f"{t:.3f} s", f"{floor:.2f} s floor ({sent} x {LATENCY_MS} ms)", r, "<= 0.10", r <= 0.10)

# --- 40-chart multi-push vs 40 x (helm package + push of the .tgz) ----------------------------
multi = []
for i in range(40):
    d = os.path.join(W, "multi", f"m{i:02d}")
    gen_chart(d, f"m{i:02d}", 50, 1000 + i)
    multi.append(d)
loop = os.path.join(W, "loop.sh")
with open(loop, "w") as f:
    f.write('set -e\nrepo=$1; out=$2; shift 2\nfor c in "$@"; do\n'
            '  "$BENCH_HELM" package "$c" -d "$out" >/dev/null\n'
            '  "$BENCH_CCR" push "$out/$(basename "$c")-1.0.0.tgz" "$repo" >/dev/null\ndone\n')
counter = [0]


def fresh_repo(kind):
    counter[0] += 1
    return f"ccr://bench/{kind}{counter[0]}"


def drop(repo):
    run([CCR, "rm", *[f"{repo}/{os.path.basename(d)}" for d in multi], "--all"], fast)


def multi_ours():
    repo = fresh_repo("mpa")
    dt = run([CCR, "push", *multi, repo], fast)[0]
    drop(repo)
    return dt


def multi_loop():
    repo = fresh_repo("mpb")
    tmp = os.path.join(W, "loop-out")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    dt = run(["sh", loop, repo, tmp, *multi], fast)[0]
    drop(repo)
    return dt


o, h, r = paired(multi_ours, multi_loop)
row("multi-push, 40 charts of 50 files", f"{o:.3f} s", f"{h:.3f} s one by one", r, "<= 0.10",
    r <= 0.10)

# --- Peak RSS of a 50 MB push and pull ---------------------------------------------------------
big = os.path.join(W, "big-1.0.0.tgz")
with tarfile.open(big, "w:gz", compresslevel=1) as t:
    meta = b"apiVersion: v2\nname: big\nversion: 1.0.0\n"
    info = tarfile.TarInfo("big/Chart.yaml")
    info.size = len(meta)
    t.addfile(info, io.BytesIO(meta))
    for i in range(50 // 4):
        data = os.urandom(4 << 20)
        info = tarfile.TarInfo(f"big/files/blob{i}.bin")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
push_peaks, pull_peaks = [], []
for i in range(PAIRS):
    repo = f"ccr://bench/mem{i}"
    push_peaks.append(peak_mib([CCR, "push", big, repo], fast))
    dest = os.path.join(W, f"pulled{i}")
    pull_peaks.append(peak_mib([CCR, "pull", f"{repo}/big", "-d", dest], fast))
    if open(big, "rb").read() != open(os.path.join(dest, "big-1.0.0.tgz"), "rb").read():
        problems.append("the pulled package differs from the pushed one")
    shutil.rmtree(dest)
    run([CCR, "rm", f"{repo}/big", "--all"], fast)
mb = os.path.getsize(big) / 1e6
for what, peaks in (("push", push_peaks), ("pull", pull_peaks)):
    p = statistics.median(peaks)
    row(f"peak RSS, {what} of a {mb:.0f} MB package", f"{p:.1f} MiB", "20 MiB", p / 20,
        "<= 1", p <= 20)

# --- Start-up ----------------------------------------------------------------------------------
o, h, r = paired(lambda: spawn_time([CCR, "version"]), lambda: spawn_time([HELM, "version"]),
                 4 * PAIRS)
row("start-up, version", f"{o * 1000:.1f} ms", f"{h * 1000:.1f} ms helm version", r,
    "ours <= 5 ms", o <= 0.005)

# --- Report ------------------------------------------------------------------------------------
w0 = max(len(x[0]) for x in rows)
w1 = max(len(x[1]) for x in rows)
w2 = max(len(x[2]) for x in rows)
print()
print(f"{'figure':<{w0}}  {'ours':>{w1}}  {'yardstick':<{w2}}  {'ratio':>7}  {'target':<12}")
for fig, ours, yard, ratio, target, verdict in rows:
    shown = "-" if ratio is None else f"{ratio:.3f}"
    print(f"{fig:<{w0}}  {ours:>{w1}}  {yard:<{w2}}  {shown:>7}  {target:<12}  {verdict}")
print(f"\nload average at end {load()}")
for p in problems:
    print(f"bench: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
