#!/usr/bin/env bash
# End-to-end: installing a release the way users will, with NO Rust toolchain on PATH.
#   1. scripts/dist.sh builds the host's platform asset, sha256sums.txt and the plugin package
#      ccr-<v>.tgz with checksums.txt, signed with a throwaway GnuPG key made here (.prov);
#   2. a local HTTP server (python3 http.server on loopback) is the release mirror
#      (HELM_CCR_RELEASE_BASE_URL);
#   3. Helm 4.1.4: `helm plugin install <mirror>/ccr-<v>.tgz --keyring <test key>` with
#      verification on; the hook fetches the binary from the mirror; `helm ccr version` works;
#      a package changed after signing is refused; an asset that differs from the package's
#      checksums.txt is refused (even though the mirror's sha256sums.txt vouches for it) and
#      nothing usable is left; the offline install from downloaded files;
#      a failed install names `helm plugin uninstall ccr`, after which a retry works;
#   4. the hook run again over a working install (an update) with bin/ immutable (chattr +i as
#      root, read-only otherwise), with bin/ on a full filesystem (a small tmpfs, as root), and
#      with a new binary that does not run: it fails, and the old binary is unchanged and works;
#   5. Helm 3.17.3: `helm plugin install file://<git repository>` (what `helm plugin install
#      https://github.com/...` does), the hook fetching the binary from the mirror and checking
#      it against the mirror's sha256sums.txt; a tampered asset is refused, nothing usable left.
# Everything after installing Helm runs with HOME set to a sealed directory (immutable as root,
# read-only otherwise) seeded with ~/.gnupg, ~/.config/helm, ~/.cache and ~/.npm: any write into
# a home directory fails the step that tried it, and the last check compares the home's listing
# and hashes before and after. GnuPG runs only with its own GNUPGHOME under the work directory.
# On Linux without an installed musl target, dist.sh writes a glibc-linked asset named
# ...-linux-<arch>-glibc.tar.gz; the hook is then pointed at it with HELM_CCR_RELEASE_ASSET.
# Prints `ok - NAME` / `not ok - NAME` per check and `e2e-install: N passed, M failed`.
#   scripts/e2e-install.sh                     # builds the release binary (cargo build --release)
#   E2E_DIST_BINARY=target/debug/helm-ccr scripts/e2e-install.sh   # package this binary instead
#   E2E_VERBOSE=1 scripts/e2e-install.sh       # show the output of passing checks too
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1

checks_name=e2e-install
work=$(mktemp -d "${TMPDIR:-/tmp}/helm-ccr-e2e-install.XXXXXX")
server_pid=""
mounted=""
locked=()
is_root=false
if [ "$(id -u)" = 0 ]; then is_root=true; fi

# lock PATH...: make PATH (recursively) unwritable, even for root: chattr +i as root (where the
# filesystem supports it), chmod a-w otherwise. Returns 1 when that is impossible here.
lock() {
  if $is_root; then
    command -v chattr >/dev/null 2>&1 && chattr -R +i "$@" 2>/dev/null || return 1
  else
    chmod -R a-w "$@" || return 1
  fi
  locked+=("$@")
}
unlock() {
  if $is_root; then chattr -R -i "$@" 2>/dev/null; else chmod -R u+w "$@"; fi
}

cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  local g
  for g in "$work/gnupg" "$work/gnupg-show"; do
    if [ -d "$g" ] && command -v gpgconf >/dev/null 2>&1; then
      GNUPGHOME="$g" gpgconf --kill all >/dev/null 2>&1
    fi
  done
  if [ -n "$mounted" ]; then umount "$mounted" 2>/dev/null; fi
  if [ ${#locked[@]} -gt 0 ]; then unlock "${locked[@]}"; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=scripts/lib/checks.sh
. "$root/scripts/lib/checks.sh"

# Installing the tools may use the network and npm's user configuration (its cache goes under
# the tools cache, see install-helm.sh); everything after this runs in the sealed HOME.
scripts/install-helm.sh 3.17.3 4.1.4 || fatal "scripts/install-helm.sh"
helm3="${HELM_CCR_TOOLS_CACHE:-$root/.cache}/helm/3.17.3/helm"
helm4="${HELM_CCR_TOOLS_CACHE:-$root/.cache}/helm/4.1.4/helm"

# The Python that runs, by its real path (a pyenv shim without PYENV_ROOT looks under HOME).
python=$(python3 -c 'import sys; print(sys.executable)') || fatal "python3 does not run"
mkdir -p "$work/pybin" || fatal "mkdir $work/pybin"
ln -s "$python" "$work/pybin/python3" || fatal "python3 link"
export PATH="$work/pybin:$PATH"
# The toolchain's own homes stay where they are (dist.sh builds with cargo without E2E_DIST_BINARY).
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"

sealed="$work/sealed-home"
mkdir -p "$sealed/.gnupg" "$sealed/.config/helm" "$sealed/.cache" "$sealed/.npm" \
  "$sealed/.local/share/helm" || fatal "sealed home"
chmod 700 "$sealed/.gnupg"
printf 'the sealed HOME of scripts/e2e-install.sh: nothing may change here\n' >"$sealed/README"
home_state() {
  (cd "$1" && find . -printf '%p %y %m %s\n' | LC_ALL=C sort &&
    find . -type f -exec sha256sum {} + | LC_ALL=C sort -k 2)
}
home_state "$sealed" >"$work/home-before.txt" || fatal "listing the sealed home"
if lock "$sealed"; then
  if $is_root; then home_lock="immutable (chattr +i)"; else home_lock="read-only (chmod a-w)"; fi
else
  home_lock="NOT locked (chattr unsupported here): checked by the listing only"
fi
export HOME="$sealed"
unset GNUPGHOME XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME
echo "==> HOME=$HOME, $home_lock"

version=$(scripts/dist.sh version) || fatal "scripts/dist.sh version"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-amd64 ;;
  Linux-aarch64) platform=linux-arm64 ;;
  *) fatal "the pinned Helm binaries are linux-amd64 only" ;;
esac
release_asset="helm-ccr-$version-$platform.tar.gz"
pkg="ccr-$version.tgz"

echo "==> throwaway GnuPG key"
export GNUPGHOME="$work/gnupg"
mkdir -p "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
signer="helm-ccr release test <release-test@helm-ccr.invalid>"
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
  --quick-generate-key "$signer" rsa3072 sign never >/dev/null 2>&1 || fatal "gpg key generation"
gpg --batch --quiet --export-secret-keys >"$work/secring.gpg" || fatal "gpg --export-secret-keys"
# Someone else's key, for a keyring that does not hold the signer's.
gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
  --quick-generate-key "someone else <other@helm-ccr.invalid>" ed25519 sign never >/dev/null 2>&1 ||
  fatal "gpg key generation"
gpg --batch --quiet --export other@helm-ccr.invalid >"$work/other.gpg" || fatal "gpg --export"
# dist.sh signs from the exported secret keyring, not from this GNUPGHOME (as in the release job);
# with GNUPGHOME unset, a gpg that reached for ~/.gnupg would fail in the sealed HOME.
gpgconf --kill all >/dev/null 2>&1
unset GNUPGHOME

echo "==> scripts/dist.sh (signed)"
dist="$work/dist"
dist_env=(HELM_CCR_DIST_DIR="$dist" HELM_CCR_SIGN_KEY="release-test@helm-ccr.invalid"
  HELM_CCR_KEYRING="$work/secring.gpg")
if [ -n "${E2E_DIST_BINARY:-}" ]; then
  case "$E2E_DIST_BINARY" in /*) ;; *) E2E_DIST_BINARY="$root/$E2E_DIST_BINARY" ;; esac
  [ -x "$E2E_DIST_BINARY" ] || fatal "E2E_DIST_BINARY=$E2E_DIST_BINARY is not an executable file"
  # A debug build's debug info makes every archive and download several times slower.
  mkdir -p "$work/bin"
  cp "$E2E_DIST_BINARY" "$work/bin/helm-ccr"
  if command -v strip >/dev/null 2>&1; then strip --strip-debug "$work/bin/helm-ccr"; fi
  dist_env+=(HELM_CCR_DIST_BINARY="$work/bin/helm-ccr")
fi
env "${dist_env[@]}" scripts/dist.sh >"$work/dist.log" 2>&1 || {
  cat "$work/dist.log"
  fatal "scripts/dist.sh"
}
# The asset dist.sh wrote: the release name for a static binary, ...-glibc.tar.gz otherwise.
shopt -s nullglob
assets=("$dist/helm-ccr-$version-$platform"*.tar.gz)
shopt -u nullglob
[ ${#assets[@]} = 1 ] || { cat "$work/dist.log"; fatal "dist.sh wrote ${#assets[@]} assets for $platform"; }
asset=$(basename "${assets[0]}")
asset_env=()
if [ "$asset" != "$release_asset" ]; then asset_env=(HELM_CCR_RELEASE_ASSET="$asset"); fi

# A glibc-linked binary is never named as the release asset; dist.sh says so on stderr.
asset_named_by_linkage() {
  cat "$work/dist.log"
  mkdir -p "$work/asset-x" && tar -xzf "$dist/$asset" -C "$work/asset-x" helm-ccr || return 1
  local dynamic=false
  if head -c 4096 "$work/asset-x/helm-ccr" | grep -qa 'ld-linux'; then dynamic=true; fi
  case "$asset" in
    "$release_asset")
      if $dynamic; then echo "(a glibc-linked binary named $asset)"; return 1; fi ;;
    "helm-ccr-$version-$platform-glibc.tar.gz")
      $dynamic || { echo "(a static binary named $asset)"; return 1; }
      grep -q "WARNING: .*dynamically linked" "$work/dist.log" || { echo "(no warning)"; return 1; } ;;
    *) echo "(unexpected name $asset)"; return 1 ;;
  esac
}
check "scripts/dist.sh names the asset by its linkage: $asset" asset_named_by_linkage

dist_made_everything() {
  ls -l "$dist"
  local f
  for f in "$asset" sha256sums.txt "$pkg" "$pkg.prov" helm-ccr-release-key.gpg; do
    [ -s "$dist/$f" ] || { echo "(missing: $f)"; return 1; }
  done
  (cd "$dist" && sha256sum -c sha256sums.txt) || return 1
  # The exported public key is the test key (and only it).
  local keys
  mkdir -p "$work/gnupg-show" && chmod 700 "$work/gnupg-show"
  keys=$(GNUPGHOME="$work/gnupg-show" gpg --batch --with-colons --show-keys \
    "$dist/helm-ccr-release-key.gpg") || return 1
  if [ "$(grep -c '^pub:' <<<"$keys")" != 1 ] || ! grep -q 'release-test@helm-ccr.invalid' <<<"$keys"; then
    echo "(helm-ccr-release-key.gpg is not the signer's public key alone)"
    return 1
  fi
  echo "--- $pkg"
  tar -tvzf "$dist/$pkg" || return 1
  tar -xzf "$dist/$pkg" -C "$work" ccr/checksums.txt || return 1
  echo "--- checksums.txt"
  cat "$work/ccr/checksums.txt"
  grep -qxF "$(cd "$dist" && sha256sum "$asset")" "$work/ccr/checksums.txt" || {
    echo "(checksums.txt does not list $asset)"
    return 1
  }
  echo "--- $pkg.prov"
  cat "$dist/$pkg.prov"
  # The signed metadata is the ccr plugin's manifest (not the getter's), and names the file.
  grep -qx 'name: "ccr"' "$dist/$pkg.prov" &&
    ! grep -q 'ccr-getter"$' "$dist/$pkg.prov" &&
    grep -qx "  $pkg: sha256:$(sha256sum "$dist/$pkg" | cut -d ' ' -f 1)" "$dist/$pkg.prov"
}
check "scripts/dist.sh wrote $asset, sha256sums.txt, $pkg with checksums.txt, its .prov (names ccr) and the public key" \
  dist_made_everything

expect_output() {
  local want=$1
  shift
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  [ $rc -eq 0 ] || { echo "(exit status $rc)"; return 1; }
  grep -qF -- "$want" <<<"$out" || { echo "(output lacks: $want)"; return 1; }
}

check "helm plugin verify (Helm 4.1.4) accepts the package with the test key" \
  expect_output "Plugin Hash Verified: sha256:$(sha256sum "$dist/$pkg" | cut -d ' ' -f 1)" \
  "$helm4" plugin verify "$dist/$pkg" --keyring "$dist/helm-ccr-release-key.gpg"

# The mirrors, one directory each, served by one local HTTP server:
#   good/             the release as dist.sh wrote it
#   bad-package/      the package rebuilt after signing (its checksums.txt now vouches for a
#                     tampered asset), published with the original .prov
#   bad-asset/        the genuine signed package, a tampered asset, and a sha256sums.txt that
#                     vouches for the tampered asset
www="$work/www"
mkdir -p "$www/good" "$www/bad-package" "$www/bad-asset"
cp "$dist"/* "$www/good/"
mkdir -p "$work/evil"
printf '#!/bin/sh\necho "helm-ccr: not the real one"\n' >"$work/evil/helm-ccr"
python3 scripts/mktar.py "$www/bad-asset/$asset" 0 --exec helm-ccr "helm-ccr=$work/evil/helm-ccr" ||
  fatal "tampered asset"
cp "$dist/$pkg" "$dist/$pkg.prov" "$www/bad-asset/"
(cd "$www/bad-asset" && sha256sum "$asset" >sha256sums.txt)
rm -rf "$work/ccr"
tar -xzf "$dist/$pkg" -C "$work" || fatal "unpacking $pkg"
(cd "$www/bad-asset" && sha256sum "$asset") >"$work/ccr/checksums.txt"
python3 scripts/mktar.py "$www/bad-package/$pkg" 0 --exec ccr/install-binary.sh \
  "ccr/plugin.yaml=$work/ccr/plugin.yaml" "ccr/checksums.txt=$work/ccr/checksums.txt" \
  "ccr/getter/ccr-getter.yaml=$work/ccr/getter/ccr-getter.yaml" \
  "ccr/install-binary.sh=$work/ccr/install-binary.sh" || fatal "tampered package"
cp "$dist/$pkg.prov" "$www/bad-package/"
cp "$www/bad-asset/$asset" "$www/bad-asset/sha256sums.txt" "$www/bad-package/"

python3 -u -m http.server --bind 127.0.0.1 0 --directory "$www" >"$work/http.out" 2>"$work/http.err" &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^Serving HTTP on [^ ]* port \([0-9]*\).*/\1/p' "$work/http.out" 2>/dev/null)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || fatal "the HTTP server did not start: $(cat "$work/http.err")"
mirror="http://127.0.0.1:$port"
echo "==> release mirror at $mirror"

# Only what a user without Rust has: a PATH of links to the few tools Helm and the hook use.
tools="$work/tools"
mkdir -p "$tools"
for t in sh bash env cat cp mv rm mkdir chmod ln ls sed awk head cut tr wc uname mktemp dirname \
  tar gzip curl sha256sum git grep; do
  p=$(command -v "$t") || fatal "$t is not installed"
  ln -s "$p" "$tools/$t"
done
no_rust_path="$tools"
if PATH=$no_rust_path command -v cargo >/dev/null 2>&1 || PATH=$no_rust_path command -v rustc >/dev/null 2>&1; then
  fatal "cargo or rustc is reachable from the test PATH"
fi

# Runs a command with fresh Helm homes under $work/NAME and no Rust toolchain on PATH.
# The environment is the user's minimum: PATH, HOME, Helm's homes, the mirror.
homes=""
in_homes() {
  homes="$work/homes/$1"
  mkdir -p "$homes/config" "$homes/data/plugins" "$homes/cache" "$homes/home"
}
run() {
  env -i PATH="$no_rust_path" HOME="$homes/home" TMPDIR="$work" \
    HELM_CONFIG_HOME="$homes/config" HELM_DATA_HOME="$homes/data" \
    HELM_CACHE_HOME="$homes/cache" HELM_PLUGINS="$homes/data/plugins" \
    HELM_CCR_RELEASE_BASE_URL="$base_url" ${asset_env[@]+"${asset_env[@]}"} "$@"
}

# installed_and_working HELM SOURCE WANT [FLAGS...]: the install prints WANT and the hook
# installs the asset from the mirror (no source build); ccr and ccr-getter load; the binary runs.
installed_and_working() {
  local helm=$1 source=$2 want=$3 out rc
  shift 3
  out=$(run "$helm" plugin install "$source" "$@" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  [ $rc -eq 0 ] || { echo "(exit status $rc)"; return 1; }
  grep -qF -- "$want" <<<"$out" || { echo "(output lacks: $want)"; return 1; }
  grep -qF "installed $asset" <<<"$out" || { echo "(the hook did not install $asset)"; return 1; }
  if grep -qiE 'cargo build|building from source' <<<"$out"; then
    echo "(a source build was attempted)"
    return 1
  fi
  run "$helm" plugin list || return 1
  run "$helm" plugin list | grep -q '^ccr-getter[[:space:]]' || { echo "(no ccr-getter)"; return 1; }
  expect_output "$version" run "$helm" ccr version
}

# A refusal: the install fails, names the checksum problem, and leaves no binary, no getter,
# and no working `helm ccr`.
refused_and_unusable() {
  local helm=$1 source=$2 want=$3 out rc
  shift 3
  out=$(run "$helm" plugin install "$source" "$@" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  printf '%s\n' "$out" >"$homes/install.out"
  [ $rc -ne 0 ] || { echo "(the install succeeded)"; return 1; }
  grep -qF -- "$want" <<<"$out" || { echo "(output lacks: $want)"; return 1; }
  local d
  if [ -e "$homes/data/plugins/ccr-getter" ]; then
    echo "(a ccr-getter was left installed)"
    return 1
  fi
  for d in "$homes"/data/plugins/*/; do
    if [ -e "${d}bin/helm-ccr" ]; then
      echo "(left installed: ${d}bin/helm-ccr)"
      return 1
    fi
  done
  if run "$helm" ccr version >/dev/null 2>&1; then
    echo "(helm ccr version works)"
    return 1
  fi
  echo "(nothing usable installed)"
}

# No plugin directory at all (what Helm keeps beside them, e.g. the downloaded .tgz, aside).
no_plugin_dirs() {
  ls -la "$homes/data/plugins"
  local d
  for d in "$homes"/data/plugins/*; do
    if [ -d "$d" ]; then
      echo "(left behind: $d)"
      return 1
    fi
  done
}

# completes HELM: the installed plugin's completion.yaml and plugin.complete answer.
completes() {
  local out
  out=$(run "$1" __complete ccr "" 2>&1) || { printf '%s\n' "$out"; return 1; }
  printf '%s\n' "$out"
  if ! grep -qx push <<<"$out" || ! grep -qx pull <<<"$out"; then
    echo "(no push/pull)"
    return 1
  fi
  # Flag values come only from plugin.complete (the binary): it must be there and executable.
  out=$(run "$1" __complete ccr ls -o "" 2>&1) || { printf '%s\n' "$out"; return 1; }
  printf '%s\n' "$out"
  grep -qx json <<<"$out" || { echo "(plugin.complete gave no json for ls -o)"; return 1; }
}

uninstalled() {
  run "$1" plugin uninstall ccr || return 1
  no_plugin_dirs || return 1
  ! run "$1" plugin list | grep -q '^ccr'
}

echo "==> Helm 4.1.4: the signed plugin package"
in_homes helm4-good
base_url="$mirror/good"
pkg_sha=$(sha256sum "$dist/$pkg" | cut -d ' ' -f 1)
check "[helm 4.1.4] helm plugin install $mirror/good/$pkg --keyring (verified), binary from the mirror" \
  installed_and_working "$helm4" "$mirror/good/$pkg" "Plugin Hash Verified: sha256:$pkg_sha" \
  --keyring "$dist/helm-ccr-release-key.gpg"
check "[helm 4.1.4] the installed package completes (completion.yaml and plugin.complete)" \
  completes "$helm4"
check "[helm 4.1.4] helm plugin uninstall ccr removes ccr and ccr-getter" \
  uninstalled "$helm4"

in_homes helm4-bad-package
base_url="$mirror/bad-package"
check "[helm 4.1.4] a package changed after signing is refused" \
  refused_and_unusable "$helm4" "$mirror/bad-package/$pkg" "sha256 sum does not match" \
  --keyring "$dist/helm-ccr-release-key.gpg"
check "[helm 4.1.4] ... and nothing of it is installed" \
  no_plugin_dirs

in_homes helm4-wrong-key
base_url="$mirror/good"
check "[helm 4.1.4] a package is refused with a keyring that lacks its signer's key" \
  refused_and_unusable "$helm4" "$mirror/good/$pkg" "plugin verification failed" \
  --keyring "$work/other.gpg"

in_homes helm4-bad-asset
base_url="$mirror/bad-asset"
check "[helm 4.1.4] an asset differing from the package's checksums.txt is refused (the mirror's sha256sums.txt vouching for it)" \
  refused_and_unusable "$helm4" "$mirror/bad-asset/$pkg" "checksum mismatch" \
  --keyring "$dist/helm-ccr-release-key.gpg"

# retried HELM SOURCE [FLAGS...]: after a failed install, the hook's message names `helm plugin
# uninstall ccr`; the plain retry still meets the plugin left behind; after the uninstall the
# same install, from the good mirror, works.
retried() {
  local helm=$1 source=$2 out
  shift 2
  cat "$homes/install.out"
  grep -qF "helm plugin uninstall ccr" "$homes/install.out" ||
    { echo "(the failed install does not name 'helm plugin uninstall ccr')"; return 1; }
  base_url="$mirror/good"
  out=$(run "$helm" plugin install "$source" "$@" 2>&1) && { echo "(the retry over the left plugin succeeded)"; return 1; }
  printf '%s\n' "$out"
  run "$helm" plugin uninstall ccr || return 1
  installed_and_working "$helm" "$source" "Installed plugin: ccr" "$@"
}
check "[helm 4.1.4] the failure says 'helm plugin uninstall ccr'; after it the install works" \
  retried "$helm4" "$mirror/good/$pkg" --keyring "$dist/helm-ccr-release-key.gpg"

# Offline: the downloaded package, .prov and asset in one directory, no server.
mkdir -p "$work/downloads"
cp "$dist/$pkg" "$dist/$pkg.prov" "$dist/$asset" "$dist/helm-ccr-release-key.gpg" "$work/downloads/"
in_homes helm4-offline
base_url="$work/downloads"
check "[helm 4.1.4] offline: helm plugin install ./$pkg --keyring, HELM_CCR_RELEASE_BASE_URL=<download dir>" \
  installed_and_working "$helm4" "$work/downloads/$pkg" "Plugin Hash Verified: sha256:$pkg_sha" \
  --keyring "$work/downloads/helm-ccr-release-key.gpg"

echo "==> the hook over a working install: nothing but a complete, working binary replaces it"
in_homes helm4-update
base_url="$mirror/good"
check "[helm 4.1.4] install from $mirror/good/$pkg (the binary to keep)" \
  installed_and_working "$helm4" "$mirror/good/$pkg" "Installed plugin: ccr" \
  --keyring "$dist/helm-ccr-release-key.gpg"
pdir=""
for f in "$homes"/data/plugins/*/install-binary.sh; do
  if [ -f "$f" ]; then pdir=$(dirname "$f") && break; fi
done
old_sha=$(sha256sum "$pdir/bin/helm-ccr" 2>/dev/null | cut -d ' ' -f 1)
[ -n "$old_sha" ] || fatal "no installed binary under $homes/data/plugins"

# kept_after_failed_hook WANT [ENV...]: the hook, run again as Helm runs it (sh, with
# HELM_PLUGIN_DIR), fails saying WANT and that the old binary still works; the binary is the
# same file, bytes unchanged; `helm ccr version` works; no temporary copy is left in bin/.
kept_after_failed_hook() {
  local want=$1 out rc
  shift
  out=$(run env HELM_PLUGIN_DIR="$pdir" "$@" sh "$pdir/install-binary.sh" 2>&1)
  rc=$?
  printf '%s\n' "$out"
  [ $rc -ne 0 ] || { echo "(the hook succeeded)"; return 1; }
  grep -qF -- "$want" <<<"$out" || { echo "(output lacks: $want)"; return 1; }
  grep -qF "is unchanged and still works" <<<"$out" || { echo "(no word on the old binary)"; return 1; }
  ls -la "$pdir/bin"
  [ "$(sha256sum "$pdir/bin/helm-ccr" | cut -d ' ' -f 1)" = "$old_sha" ] ||
    { echo "(bin/helm-ccr changed)"; return 1; }
  local t
  for t in "$pdir"/bin/.helm-ccr.tmp*; do
    if [ -e "$t" ]; then echo "(a temporary copy is left: $t)"; return 1; fi
  done
  expect_output "$version" run "$helm4" ccr version
}

bin_locked() {
  lock "$pdir/bin" || { echo "(cannot lock $pdir/bin)"; return 1; }
  kept_after_failed_hook "cannot copy"
  local rc=$?
  unlock "$pdir/bin"
  return $rc
}
if $is_root && ! { command -v chattr >/dev/null 2>&1 && chattr +i "$pdir/bin" 2>/dev/null && chattr -i "$pdir/bin"; }; then
  skip "[hook] bin/ immutable: the hook fails, the old binary is kept and works" "chattr +i is not supported here"
else
  check "[hook] bin/ $(if $is_root; then echo "immutable (chattr +i)"; else echo "read-only"; fi): the hook fails, the old binary is kept and works" \
    bin_locked
fi

# bin/ on a tmpfs with room for the old binary and half another: the copy runs out of space.
bin_full() {
  local size
  size=$(wc -c <"$pdir/bin/helm-ccr") || return 1
  mv "$pdir/bin" "$pdir/bin.real" || return 1
  mkdir "$pdir/bin" || return 1
  if ! mount -t tmpfs -o "size=$((size * 3 / 2))" tmpfs "$pdir/bin"; then
    rmdir "$pdir/bin"
    mv "$pdir/bin.real" "$pdir/bin"
    return 1
  fi
  mounted="$pdir/bin"
  cp -p "$pdir/bin.real/helm-ccr" "$pdir/bin/helm-ccr" || return 1
  df -h "$pdir/bin"
  kept_after_failed_hook "No space left on device"
  local rc=$?
  umount "$pdir/bin" && mounted="" && rmdir "$pdir/bin" && mv "$pdir/bin.real" "$pdir/bin" || rc=1
  return $rc
}
probe="$work/mount-probe"
mkdir -p "$probe"
if $is_root && mount -t tmpfs -o size=64k tmpfs "$probe" 2>/dev/null && umount "$probe"; then
  check "[hook] bin/ on a full filesystem (tmpfs): the truncated copy replaces nothing" bin_full
else
  skip "[hook] bin/ on a full filesystem (tmpfs): the truncated copy replaces nothing" \
    "mounting a tmpfs needs root (and a mount namespace that allows it)"
fi

printf '#!/bin/sh\necho "helm-ccr: broken" >&2\nexit 3\n' >"$work/broken-helm-ccr"
chmod 755 "$work/broken-helm-ccr"
check "[hook] a new binary that does not run (HELM_CCR_BINARY): the old one is kept and works" \
  kept_after_failed_hook "the new binary does not run" HELM_CCR_BINARY="$work/broken-helm-ccr"
check "[hook] run again with bin/ writable: it succeeds" \
  expect_output "ready: try 'helm ccr --help'" run env HELM_PLUGIN_DIR="$pdir" sh "$pdir/install-binary.sh"

echo "==> Helm 3.17.3: a git repository"
# A repository holding the working tree's files (committed or not), named as GitHub's would be.
repo="$work/git/helm-ccr"
mkdir -p "$repo"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  if [ -e "$f" ]; then
    mkdir -p "$repo/$(dirname "$f")" && cp -pP "$f" "$repo/$f"
  fi
done
(cd "$repo" && git init -q && git add -A &&
  git -c user.name=e2e -c user.email=e2e@helm-ccr.invalid commit -q -m snapshot &&
  git tag "v$version") ||
  fatal "git repository"

in_homes helm3-good
base_url="$mirror/good"
check "[helm 3.17.3] helm plugin install file://<git repo> --version v$version, binary from the mirror (sha256sums.txt)" \
  installed_and_working "$helm3" "file://$repo" "Installed plugin: ccr" --version "v$version"
check "[helm 3.17.3] helm plugin uninstall ccr removes ccr and ccr-getter" \
  uninstalled "$helm3"

# A mirror whose sha256sums.txt is the release's and whose asset is not.
in_homes helm3-bad-asset
mkdir -p "$www/bad-asset-genuine-sums"
cp "$www/bad-asset/$asset" "$www/bad-asset-genuine-sums/"
cp "$dist/sha256sums.txt" "$www/bad-asset-genuine-sums/"
base_url="$mirror/bad-asset-genuine-sums"
check "[helm 3.17.3] an asset differing from the release's sha256sums.txt is refused" \
  refused_and_unusable "$helm3" "file://$repo" "checksum mismatch"
check "[helm 3.17.3] the failure says 'helm plugin uninstall ccr'; after it the install works" \
  retried "$helm3" "file://$repo" --version "v$version"

home_unchanged() {
  echo "HOME=$sealed, $home_lock"
  home_state "$sealed" >"$work/home-after.txt" || return 1
  diff "$work/home-before.txt" "$work/home-after.txt"
}
check "the sealed HOME is unchanged (listing and sha256 before and after)" home_unchanged

echo "e2e-install: $passed passed, $failed failed${skipped:+, $skipped skipped}"
[ "$failed" -eq 0 ]
