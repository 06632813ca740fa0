#!/usr/bin/env bash
# Every test the project has: lints (shellcheck, actionlint, zizmor, hadolint), formatting, clippy, unit +
# integration tests (which drive the real helm 3.17.3 and 4.1.4, installed and checked by
# scripts/install-helm.sh, and include the one-version check), cargo deny, the plugin end-to-end
# suite, and the install end to end from a signed release with no Rust on PATH.
# Needs the Rust toolchain, npm and python3 on PATH; installs the rest (pinned) into .cache/.
# The scripts write nothing in $HOME but what cargo itself keeps in CARGO_HOME: npm's and pip's
# caches go under .cache/ (or HELM_CCR_TOOLS_CACHE); e2e.sh, demo.sh and bench.sh run Helm and
# GnuPG in temporary homes; scripts/e2e-install.sh runs with HOME sealed (immutable as root) and
# checks it is unchanged. (The Rust tests give the commands they run their own HOME/GNUPGHOME.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "==> installing pinned Helm binaries"
scripts/install-helm.sh
helm_cache="${HELM_CCR_TOOLS_CACHE:-$root/.cache}/helm"
export HELM_CCR_TEST_HELM3="$helm_cache/3.17.3/helm"
export HELM_CCR_TEST_HELM4="$helm_cache/4.1.4/helm"

# Signed charts, plugin packages and the provenance tests (cargo test and e2e) need GnuPG.
if ! command -v gpg >/dev/null 2>&1 || ! command -v gpgconf >/dev/null 2>&1; then
  echo "gpg not found; installing gnupg (signed charts and plugin packages need it)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg >/dev/null
  fi
  command -v gpg >/dev/null 2>&1 || { echo "gpg is still missing: install GnuPG" >&2; exit 1; }
fi

echo "==> lints: shellcheck, actionlint, zizmor, hadolint"
scripts/lint.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> cargo test"
cargo test --workspace --locked

echo "==> cargo deny check licenses bans sources"
scripts/deny.sh licenses bans sources

echo "==> plugin end to end (Helm 3.17.3 and 4.1.4)"
bash scripts/e2e.sh

echo "==> install end to end: signed release, local mirror, no Rust on PATH"
# The binary `cargo test` built stands in for the release build (scripts/dist.sh without
# E2E_DIST_BINARY runs `cargo build --release`, minutes more; the release workflow does that).
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
E2E_DIST_BINARY="$target_dir/debug/helm-ccr" bash scripts/e2e-install.sh
