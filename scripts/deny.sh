#!/usr/bin/env bash
# cargo deny with deny.toml, installing the pinned cargo-deny from crates.io
# (`cargo install --locked`) into .cache/tools when it is missing (HELM_CCR_TOOLS_CACHE to share
# one cache between checkouts).
#   scripts/deny.sh                          # licenses bans sources (offline; scripts/test.sh)
#   scripts/deny.sh advisories bans licenses sources   # CI: the advisory database needs the network
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=0.20.2
tools="${HELM_CCR_TOOLS_CACHE:-$root/.cache}/tools"
deny="$tools/bin/cargo-deny"

if [ ! -x "$deny" ] || [ "$("$deny" --version 2>/dev/null)" != "cargo-deny $version" ]; then
  echo "deny.sh: cargo install --locked cargo-deny@$version --root $tools (a few minutes, once)" >&2
  cargo install --quiet --locked "cargo-deny@$version" --root "$tools"
fi

checks=("$@")
[ ${#checks[@]} -gt 0 ] || checks=(licenses bans sources)
"$deny" --version
exec "$deny" --locked --workspace check "${checks[@]}"
