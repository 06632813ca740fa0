#!/usr/bin/env bash
# End-to-end: the plugin as users get it, in real Helm 3.17.3 and Helm 4.1.4, against the CCR
# emulator on loopback. For each Helm version, in its own throwaway HELM_*_HOMEs:
# `helm plugin install <checkout>` (the hook builds from source), push, repo add/update, search,
# pull, template, dependency update, signed pull --verify, rm and uninstall.
# Prints `ok - NAME` / `not ok - NAME` per check and `e2e: N passed, M failed`; exit 1 on any
# failure. Needs the Rust toolchain, npm (for the pinned Helm binaries) and gpg.
#   scripts/e2e.sh                 # both Helm versions
#   scripts/e2e.sh 4.1.4           # one
#   E2E_VERBOSE=1 scripts/e2e.sh   # show the output of passing checks too
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.17.3 4.1.4)

AK=e2e-access-key
SK=e2e-secret-key
INSTANCE=ccr-e2e

checks_name=e2e
work=$(mktemp -d "${TMPDIR:-/tmp}/helm-ccr-e2e.XXXXXX")
emu_pid=""

cleanup() {
  if [ -n "$emu_pid" ]; then
    kill "$emu_pid" 2>/dev/null
    wait "$emu_pid" 2>/dev/null
  fi
  if [ -n "${GNUPGHOME:-}" ] && command -v gpgconf >/dev/null 2>&1; then
    gpgconf --kill all >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=scripts/lib/checks.sh
. "$root/scripts/lib/checks.sh"

# Runs a command and shows its output; fails when the output lacks a text.
expect_output() {
  local want=$1
  shift
  local out
  out=$("$@" 2>&1)
  local rc=$?
  printf '%s\n' "$out"
  if [ $rc -ne 0 ]; then
    echo "(exit status $rc)"
    return 1
  fi
  if ! grep -qF -- "$want" <<<"$out"; then
    echo "(output lacks: $want)"
    return 1
  fi
}

echo "==> pinned Helm ${versions[*]}"
scripts/install-helm.sh "${versions[@]}" || fatal "scripts/install-helm.sh"

echo "==> building the emulator"
cargo build --locked --quiet -p ccr-emulator --bin ccr-emulator || fatal "cargo build -p ccr-emulator"
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
emulator="$target_dir/debug/ccr-emulator"

"$emulator" --port 0 --keys "$AK:$SK" >"$work/emulator.out" 2>"$work/emulator.err" &
emu_pid=$!
base=""
for _ in $(seq 1 100); do
  base=$(head -n 1 "$work/emulator.out" 2>/dev/null)
  [ -n "$base" ] && break
  kill -0 "$emu_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$base" ] || fatal "the emulator did not start: $(cat "$work/emulator.err")"
echo "==> emulator at $base"

# Nothing from the developer's environment: no credentials, no Helm settings, a fresh HOME
# (no ~/.bce, ~/.go-bcecli or ~/.gnupg); cargo and rustup keep their homes.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export HOME="$work/home"
mkdir -p "$HOME"
unset BCE_ACCESS_KEY_ID BCE_SECRET_ACCESS_KEY BCE_SECURITY_TOKEN BCE_PROFILE BCE_REGION \
  HELM_CCR_BINARY HELM_CCR_SKIP_DOWNLOAD HELM_REPOSITORY_CONFIG HELM_REPOSITORY_CACHE \
  HELM_REGISTRY_CONFIG HELM_PLUGIN_USERNAME HELM_PLUGIN_PASSWORD HELM_DEBUG HELM_KUBECONTEXT \
  XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME
export HELM_CCR_ENDPOINT="$base"
# No release is reachable from here: the install hook must fall back to building from source.
# A closed loopback port makes that immediate and independent of the network.
export HELM_CCR_RELEASE_BASE_URL="http://127.0.0.1:9/helm-ccr-releases"

echo "==> throwaway GnuPG key"
export GNUPGHOME="$work/gnupg"
mkdir -p "$GNUPGHOME"
chmod 700 "$GNUPGHOME"
signer="helm-ccr e2e <e2e@helm-ccr.invalid>"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
  --quick-generate-key "$signer" rsa2048 sign never >/dev/null 2>&1 || fatal "gpg key generation"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
  --export-secret-keys >"$work/secring.gpg" || fatal "gpg --export-secret-keys"
gpg --batch --quiet --export >"$work/pubring.gpg" || fatal "gpg --export"

sha256() { sha256sum "$1" | cut -d ' ' -f 1; }

# The index the getter serves, checked against the bytes it serves for every chart.
index_digests_match() {
  local getter="$HELM_PLUGINS/ccr-getter/bin/helm-ccr" url=$1 dir="$work/digests.$RANDOM"
  mkdir -p "$dir"
  HELM_PLUGIN_USERNAME=$AK HELM_PLUGIN_PASSWORD=$SK \
    "$getter" download "" "" "" "$url/index.yaml" >"$dir/index.yaml" || return 1
  cat "$dir/index.yaml"
  # Pairs "digest url" from the index (digest comes before urls in every entry).
  awk '/^    digest: /{gsub(/"/,"",$2); d=$2} /^    - "/ && d!=""{gsub(/"/,"",$2); print d, $2; d=""}' \
    "$dir/index.yaml" >"$dir/pairs"
  local n=0 digest file
  while read -r digest file; do
    HELM_PLUGIN_USERNAME=$AK HELM_PLUGIN_PASSWORD=$SK \
      "$getter" download "" "" "" "$url/$file" >"$dir/$file" || return 1
    local got
    got=$(sha256 "$dir/$file")
    if [ "$got" != "$digest" ]; then
      echo "$file: index digest $digest, served bytes $got"
      return 1
    fi
    n=$((n + 1))
  done <"$dir/pairs"
  echo "$n digests match"
  [ "$n" -ge 2 ]
}

# Helm's own cache of the repository index agrees with the pulled file.
pulled_matches_index() {
  local file=$1 idx="$HELM_CACHE_HOME/repository/r-index.yaml"
  local digest
  digest=$(sha256 "$file")
  grep -qF "$digest" "$idx" || {
    echo "sha256 $digest of $file is not in $idx"
    return 1
  }
}

plugin_installed() {
  local helm=$1 out
  out=$("$helm" plugin install "$root" 2>&1)
  local rc=$?
  printf '%s\n' "$out"
  [ $rc -eq 0 ] || return 1
  grep -qF "building from source" <<<"$out" || {
    echo "(the source-build fallback did not run)"
    return 1
  }
  local list
  list=$("$helm" plugin list 2>&1)
  printf '%s\n' "$list"
  grep -q '^ccr[[:space:]]' <<<"$list" && grep -q '^ccr-getter[[:space:]]' <<<"$list" || return 1
  "$helm" ccr version
}

repo_added() {
  local helm=$1 url=$2
  if env | grep -E '^(BCE_|HELM_PLUGIN_)'; then
    echo "(credentials in the environment)"
    return 1
  fi
  if [ -e "$HOME/.bce" ] || [ -e "$HOME/.go-bcecli" ]; then
    echo "(credential files in HOME)"
    return 1
  fi
  "$helm" repo add r "$url" --username "$AK" --password "$SK" || return 1
  "$helm" repo list
}

pulled() {
  local helm=$1 out=$2
  "$helm" pull r/app --version 0.1.0 -d "$out" || return 1
  ls -l "$out/app-0.1.0.tgz" && pulled_matches_index "$out/app-0.1.0.tgz"
}

pulled_direct() {
  local helm=$1 url=$2 out=$3/direct
  mkdir -p "$out"
  "$helm" pull "$url/app-0.2.0.tgz" -d "$out" --username "$AK" --password "$SK" || return 1
  ls -l "$out/app-0.2.0.tgz"
}

dependencies_updated() {
  local helm=$1 chart=$2
  "$helm" dependency update "$chart" || return 1
  ls -l "$chart/charts/app-0.2.0.tgz"
}

signed_pull_verified() {
  local helm=$1 pkg=$2 out=$3/verified
  mkdir -p "$out"
  ls -l "$pkg/app-0.3.0.tgz" "$pkg/app-0.3.0.tgz.prov" || return 1
  "$helm" ccr push "$pkg/app-0.3.0.tgz" r || return 1
  "$helm" repo update r || return 1
  expect_output "Signed by" \
    "$helm" pull r/app --version 0.3.0 --verify --keyring "$work/pubring.gpg" -d "$out" || return 1
  ls -l "$out/app-0.3.0.tgz"
}

# helm ccr push --sign: with the agent-held key of $GNUPGHOME (no secring.gpg anywhere in it),
# then from the legacy secret keyring alone (a GnuPG home without keys); each .prov passes
# helm pull --verify through ccr://, helm verify, and helm ccr pull --verify.
ccr_signed_verified() {
  local helm=$1 src=$2 out=$3/ccr-signed
  mkdir -p "$out/helm" "$out/ccr"
  if [ -e "$GNUPGHOME/secring.gpg" ]; then
    echo "(a secring.gpg in GNUPGHOME: the agent's key was meant)"
    return 1
  fi
  expect_output "signed with key" "$helm" ccr push "$src" r --version 0.4.0 --sign || return 1
  local keyless="$work/gnupg-keyless"
  mkdir -p "$keyless" && chmod 700 "$keyless"
  expect_output "signed with key" env GNUPGHOME="$keyless" "$helm" ccr push "$src" r \
    --version 0.5.0 --sign --keyring "$work/secring.gpg" --key "$signer" || return 1
  "$helm" repo update r || return 1
  local v
  for v in 0.4.0 0.5.0; do
    expect_output "Chart Hash Verified" "$helm" pull r/app --version "$v" --verify \
      --keyring "$work/pubring.gpg" -d "$out/helm" || return 1
    expect_output "Chart Hash Verified" \
      "$helm" verify "$out/helm/app-$v.tgz" --keyring "$work/pubring.gpg" || return 1
    expect_output "Chart Hash Verified" "$helm" ccr pull r/app --version "$v" --verify \
      --keyring "$work/pubring.gpg" -d "$out/ccr" || return 1
  done
  ls -l "$out/helm" "$out/ccr"
}

# A different package pushed under a signed name with the old .prov beside it: both Helm's
# pull --verify and helm ccr pull --verify refuse it, and helm ccr writes nothing.
ccr_tampered_refused() {
  local helm=$1 src=$2 base=$3
  local dir="$base/tamper" out="$base/tampered-ccr" hout="$base/tampered-helm" err
  mkdir -p "$dir" "$out" "$hout"
  "$helm" package "$src" --version 0.4.0 --app-version tampered -d "$dir" >/dev/null || return 1
  cp "$base/ccr-signed/helm/app-0.4.0.tgz.prov" "$dir/" || return 1
  "$helm" ccr push "$dir/app-0.4.0.tgz" r --force || return 1
  "$helm" repo update r >/dev/null || return 1
  if "$helm" pull r/app --version 0.4.0 --verify --keyring "$work/pubring.gpg" -d "$hout"; then
    echo "(helm pull --verify accepted the changed package)"
    return 1
  fi
  if err=$("$helm" ccr pull r/app --version 0.4.0 --verify --keyring "$work/pubring.gpg" \
    -d "$out" 2>&1); then
    echo "$err"
    echo "(helm ccr pull --verify accepted the changed package)"
    return 1
  fi
  echo "$err"
  grep -q "does not match its provenance file" <<<"$err" || return 1
  if [ -n "$(ls -A "$out")" ]; then
    ls -la "$out"
    echo "(helm ccr pull --verify wrote files)"
    return 1
  fi
}

versions_listed() {
  local out
  out=$("$@" 2>&1) || {
    printf '%s\n' "$out"
    return 1
  }
  printf '%s\n' "$out"
  grep -qF "0.1.0" <<<"$out" && grep -qF "0.2.0" <<<"$out"
}

# `--debug` after the plugin's name: Helm takes it (HELM_DEBUG=true); the listing is the same,
# with the requests logged.
debug_listed() {
  local helm=$1 out
  out=$("$helm" ccr ls r/app --debug 2>&1) || {
    printf '%s\n' "$out"
    return 1
  }
  printf '%s\n' "$out"
  grep -qF "0.2.0" <<<"$out" || { echo "(no listing)"; return 1; }
  grep -qF "[debug] GET " <<<"$out" || { echo "(no debug lines)"; return 1; }
}

# `helm ccr help environment` lists the variables; `helm ccr help --help` is help's own help.
environment_help() {
  local helm=$1 out name
  out=$("$helm" ccr help environment 2>&1) || {
    printf '%s\n' "$out"
    return 1
  }
  printf '%s\n' "$out"
  for name in HELM_CCR_ENDPOINT HELM_CCR_TIMEOUT HELM_CCR_RETRIES BCE_ACCESS_KEY_ID HELM_DEBUG; do
    grep -qF "$name" <<<"$out" || { echo "(no $name)"; return 1; }
  done
  out=$("$helm" ccr help --help 2>&1) || {
    printf '%s\n' "$out"
    return 1
  }
  printf '%s\n' "$out"
  grep -qF "helm ccr help [COMMAND | environment]" <<<"$out"
}

rm_removes() {
  local helm=$1 out
  "$helm" ccr delete r/app --version 0.1.0 || return 1
  out=$("$helm" ccr ls r/app 2>&1) || {
    printf '%s\n' "$out"
    return 1
  }
  printf '%s\n' "$out"
  if grep -qF "0.1.0" <<<"$out"; then
    echo "(0.1.0 still listed)"
    return 1
  fi
  "$helm" ccr rm r/app r/parent --all || return 1
  out=$("$helm" ccr ls r 2>&1)
  printf '%s\n' "$out"
  ! grep -qE '(^|[[:space:]/])app([[:space:]]|$)' <<<"$out"
}

# Shell completion as Helm runs it: completion.yaml's commands, then plugin.complete answering
# with the added ccr:// repository, its charts and a chart's versions (from the registry).
completion_works() {
  local helm=$1 out
  out=$("$helm" __complete ccr "" 2>/dev/null)
  printf '%s\n' "$out"
  if ! grep -qx push <<<"$out" || ! grep -qx env <<<"$out"; then
    echo "(no subcommands)"
    return 1
  fi
  out=$("$helm" __complete ccr pull "" 2>/dev/null)
  printf '%s\n' "$out"
  grep -qx 'r/' <<<"$out" || { echo "(no repository r/)"; return 1; }
  out=$("$helm" __complete ccr pull r/ 2>/dev/null)
  printf '%s\n' "$out"
  grep -qx 'r/app' <<<"$out" || { echo "(no chart r/app)"; return 1; }
  out=$("$helm" __complete ccr list r/ 2>/dev/null)
  printf '%s\n' "$out"
  grep -qx 'r/app' <<<"$out" || { echo "(no chart r/app after list)"; return 1; }
  out=$("$helm" __complete ccr pull r/app --version "" 2>/dev/null)
  printf '%s\n' "$out"
  if ! grep -qx '0.2.0' <<<"$out" || ! grep -qx '0.1.0' <<<"$out"; then
    echo "(no versions)"
    return 1
  fi
}

uninstalled() {
  local helm=$1
  "$helm" plugin uninstall ccr || return 1
  ls -la "$HELM_PLUGINS"
  if [ -e "$HELM_PLUGINS/ccr-getter" ]; then
    echo "(ccr-getter left behind)"
    return 1
  fi
  local list
  list=$("$helm" plugin list 2>&1)
  printf '%s\n' "$list"
  ! grep -q '^ccr' <<<"$list"
}

for v in "${versions[@]}"; do
  helm="${HELM_CCR_TOOLS_CACHE:-$root/.cache}/helm/$v/helm"
  major=${v%%.*}
  h="$work/helm$v"
  export HELM_CONFIG_HOME="$h/config" HELM_DATA_HOME="$h/data" HELM_CACHE_HOME="$h/cache"
  export HELM_PLUGINS="$HELM_DATA_HOME/plugins"
  mkdir -p "$HELM_CONFIG_HOME" "$HELM_DATA_HOME" "$HELM_CACHE_HOME" "$h/src" "$h/pkg" "$h/out"
  url="ccr://$INSTANCE/e2e-helm$major"
  t="[helm $v]"
  echo "==> Helm $v ($url)"

  check "$t helm plugin install <checkout> (source-build fallback) gives helm ccr and ccr-getter" \
    plugin_installed "$helm"

  check "$t helm repo add --username/--password with no credentials in the environment" \
    repo_added "$helm" "$url"

  # A chart directory, pushed by repository name: credentials come from the repo entry.
  (cd "$h/src" && "$helm" create app >/dev/null &&
    sed -i 's/^version:.*/version: 0.1.0/; s/^appVersion:.*/appVersion: "1.16.0"/' app/Chart.yaml)
  check "$t helm ccr push DIR r (credentials found through the repository name)" \
    expect_output "0.1.0" "$helm" ccr push "$h/src/app" r

  "$helm" package "$h/src/app" --version 0.2.0 -d "$h/pkg" >/dev/null
  check "$t helm ccr push CHART.tgz r" \
    expect_output "0.2.0" "$helm" ccr push "$h/pkg/app-0.2.0.tgz" r

  check "$t helm ccr ls with BCE_* credentials in the environment" \
    versions_listed env BCE_ACCESS_KEY_ID=$AK BCE_SECRET_ACCESS_KEY=$SK "$helm" ccr ls "$url/app"

  check "$t helm ccr list r/app (the alias of ls)" \
    versions_listed "$helm" ccr list r/app
  check "$t helm ccr ls r/app --debug (Helm's flag after the plugin's name)" \
    debug_listed "$helm"
  check "$t helm ccr help environment, helm ccr help --help" \
    environment_help "$helm"

  check "$t helm repo update" expect_output "r" "$helm" repo update r

  check "$t helm search repo r/" \
    versions_listed "$helm" search repo r/ --versions

  check "$t helm __complete ccr: repositories, charts and versions" \
    completion_works "$helm"

  check "$t index digests equal the sha256 of the bytes the getter serves" \
    index_digests_match "$url"

  check "$t helm pull r/app --version 0.1.0 (digest as in the index)" \
    pulled "$helm" "$h/out"
  check "$t helm pull ccr://.../app-0.2.0.tgz (a direct chart URL)" \
    pulled_direct "$helm" "$url" "$h/out"

  check "$t helm template r/app" \
    expect_output "kind: Deployment" "$helm" template demo r/app --version 0.2.0

  mkdir -p "$h/src/parent/templates"
  cat >"$h/src/parent/Chart.yaml" <<EOF
apiVersion: v2
name: parent
version: 1.0.0
dependencies:
  - name: app
    version: "~0.2.0"
    repository: "$url"
EOF
  check "$t helm dependency update on a chart depending on ccr://" \
    dependencies_updated "$helm" "$h/src/parent"

  # Signed with `helm package --sign` (legacy secret keyring), pushed with its .prov.
  "$helm" package "$h/src/app" --version 0.3.0 -d "$h/pkg" --sign \
    --key "$signer" --keyring "$work/secring.gpg" >"$work/sign.log" 2>&1 || cat "$work/sign.log"
  check "$t helm pull --verify of a chart signed by helm package --sign" \
    signed_pull_verified "$helm" "$h/pkg" "$h/out"
  check "$t helm ccr push --sign (agent key; --keyring secring.gpg): helm pull --verify, helm verify, helm ccr pull --verify" \
    ccr_signed_verified "$helm" "$h/src/app" "$h/out"
  check "$t a package changed after signing: helm pull --verify and helm ccr pull --verify refuse it" \
    ccr_tampered_refused "$helm" "$h/src/app" "$h/out"

  "$helm" package "$h/src/parent" -d "$h/pkg" >/dev/null 2>&1 && "$helm" ccr push "$h/pkg/parent-1.0.0.tgz" r >/dev/null 2>&1
  check "$t helm ccr delete (a version), then rm (whole charts)" rm_removes "$helm"

  check "$t helm plugin uninstall ccr leaves no getter behind" uninstalled "$helm"
done

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
