#!/bin/sh
# Install (or update) the helm-ccr binary for the `ccr` Helm plugin, then the `ccr-getter`
# companion plugin beside it. Run by Helm's install and update hooks; POSIX sh.
#
# Relies only on HELM_PLUGIN_DIR (Helm 4 runs hooks without HELM_BIN and most HELM_* vars).
# Where the binary comes from, first that applies:
#   1. HELM_CCR_BINARY=/path/to/helm-ccr    a prebuilt binary, copied as it is;
#   2. the release asset helm-ccr-VERSION-OS-ARCH.tar.gz, downloaded from
#      HELM_CCR_RELEASE_BASE_URL (default: the GitHub release of plugin.yaml's version; a local
#      directory or file:// URL works too) and checked against
#        - checksums.txt in the plugin directory, when there is one: the signed plugin package
#          (ccr-VERSION.tgz) carries it, so its signature covers the binary. It is then the only
#          list trusted: no sha256sums.txt is fetched, and nothing else is tried after a refusal;
#        - otherwise (a git or directory install) the release's sha256sums.txt.
#      A checksum problem is a refusal, never a reason to try something else;
#   3. when no asset can be had (offline, no release, unsupported platform):
#      `cargo build --release --locked` in the plugin directory (a source checkout), honouring
#      CARGO_TARGET_DIR;
#   4. otherwise: say what to do, exit 1.
# Set HELM_CCR_SKIP_DOWNLOAD=1 to go straight from 1 to 3. HELM_CCR_RELEASE_ASSET=FILE names
# another asset than helm-ccr-VERSION-OS-ARCH.tar.gz (e.g. a test build's ...-glibc.tar.gz); it
# is checked against the same checksum list.
#
# Every step is checked. The binary in place is replaced only by a complete copy: the new one
# is copied beside it under a temporary name (same directory), compared with its source (size
# and sha256), smoke-run (`helm-ccr version`), and only then renamed over bin/helm-ccr. On any
# failure the previous binary, if there was one, is left as it was.

set -eu

# The repository whose GitHub releases hold the binaries (the README's Install section names it).
release_repo="https://github.com/baidubce-community/helm-ccr"

me="helm-ccr install"
say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "$me" "$*" >&2
  advise
  exit 1
}

# advise: after a failure, what state the plugin is in and what to do next (a failed
# `helm plugin install` leaves the plugin directory in place: a plain retry says "plugin
# already exists"). The hook never removes the plugin directory itself: for a local or git
# install it can be the user's own checkout.
advise() {
  [ -n "${target:-}" ] || return 0
  rm -f "$tmp_bin" 2>/dev/null || :
  if [ "${replaced:-false}" = true ] && "$target" version >/dev/null 2>&1; then
    printf '%s: the new binary is installed (%s) and works; run this hook again for the rest:\n  HELM_PLUGIN_DIR="%s" sh "%s/install-binary.sh"\n' \
      "$me" "$target" "$plugin_dir" "$plugin_dir" >&2
  elif [ -f "$target" ] && "$target" version >/dev/null 2>&1; then
    printf '%s: the binary already installed (%s) is unchanged and still works.\n' "$me" "$target" >&2
  else
    cat >&2 <<EOF
$me: the 'ccr' plugin is left without a working binary. Remove it before installing again:
  helm plugin uninstall ccr
or fix the cause and run this hook again:
  HELM_PLUGIN_DIR="$plugin_dir" sh "$plugin_dir/install-binary.sh"
EOF
  fi
}

[ -n "${HELM_PLUGIN_DIR:-}" ] || die "HELM_PLUGIN_DIR is not set (this script is run by 'helm plugin install')"
[ -d "$HELM_PLUGIN_DIR" ] || die "HELM_PLUGIN_DIR=$HELM_PLUGIN_DIR is not a directory"
case "$HELM_PLUGIN_DIR" in
  /*) plugin_dir=$HELM_PLUGIN_DIR ;;
  *) plugin_dir=$(cd "$HELM_PLUGIN_DIR" && pwd) ;;
esac
plugin_dir=${plugin_dir%/}

version=$(sed -n 's/^version:[[:space:]]*["'\'']\{0,1\}\([^"'\'' ]*\)["'\'']\{0,1\}[[:space:]]*$/\1/p' \
  "$plugin_dir/plugin.yaml" | head -n 1)
[ -n "$version" ] || die "cannot read the version from $plugin_dir/plugin.yaml"

os=""
arch=""
exe=""
detect_platform() {
  case $(uname -s 2>/dev/null) in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    MINGW* | MSYS* | CYGWIN* | Windows_NT) os=windows exe=.exe ;;
    *) os="" ;;
  esac
  case $(uname -m 2>/dev/null) in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch="" ;;
  esac
}
detect_platform

bin_dir="$plugin_dir/bin"
target="$bin_dir/helm-ccr$exe"
tmp_bin="$bin_dir/.helm-ccr.tmp.$$$exe"
replaced=false
work=""
cleanup() {
  if [ -n "$work" ]; then rm -rf "$work"; fi
  rm -f "$tmp_bin" 2>/dev/null || :
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

size_of() { wc -c <"$1" | tr -d ' '; }

# install_file SRC: put SRC at bin/helm-ccr, or fail leaving what is there untouched: copy
# beside it under a temporary name, compare the copy with SRC (size, sha256 when a tool for it
# exists), smoke-run the copy, then rename it over bin/helm-ccr (atomic within a directory).
# Every step is checked explicitly: this runs inside `if`, where `set -e` does not apply.
install_file() {
  src=$1
  mkdir -p "$bin_dir" || die "cannot create $bin_dir"
  rm -f "$tmp_bin" 2>/dev/null || :
  cp "$src" "$tmp_bin" || die "cannot copy $src to $tmp_bin (is $bin_dir writable, is the disk full?)"
  chmod 0755 "$tmp_bin" || die "cannot make $tmp_bin executable"
  src_size=$(size_of "$src") || die "cannot read the size of $src"
  tmp_size=$(size_of "$tmp_bin") || die "cannot read the size of $tmp_bin"
  [ -n "$src_size" ] && [ "$src_size" = "$tmp_size" ] ||
    die "the copy of $src is incomplete ($tmp_size of $src_size bytes; is the disk full?)"
  if src_sha=$(sha256_of "$src"); then
    tmp_sha=$(sha256_of "$tmp_bin") || die "cannot compute the sha256 of $tmp_bin"
    [ -n "$src_sha" ] && [ "$src_sha" = "$tmp_sha" ] ||
      die "the copy of $src differs from it (sha256 $tmp_sha, not $src_sha)"
  elif command -v cmp >/dev/null 2>&1; then
    cmp -s "$src" "$tmp_bin" || die "the copy of $src differs from it"
  fi
  "$tmp_bin" version >/dev/null ||
    die "the new binary does not run ('helm-ccr version' failed): nothing was replaced"
  mv -f "$tmp_bin" "$target" || die "cannot rename $tmp_bin to $target"
  replaced=true
}

# fetch URL FILE: 0 when FILE holds the body of a successful answer, non-zero otherwise.
# A local directory (absolute path or file:// URL) is read directly. Short connect timeout, so
# an offline machine falls through to the source build at once.
fetch() {
  case "$1" in
    file://*) cp "${1#file://}" "$2" 2>/dev/null; return ;;
    /*) cp "$1" "$2" 2>/dev/null; return ;;
  esac
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --proto '=https,http' --connect-timeout 5 --max-time 300 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -T 10 -t 1 -O "$2" "$1"
  else
    say "neither curl nor wget is available"
    return 1
  fi
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 "$1" | sed 's/^.*= *//'
  else
    return 1
  fi
}

# checksum_for FILE NAME: the lower-case sha256 that the sha256sum-format list FILE gives NAME.
checksum_for() {
  awk -v f="$2" '{ n = $2; sub(/^\*/, "", n); if (n == f) { print $1; exit } }' "$1" |
    tr 'A-F' 'a-f'
}

# Returns 0 when installed, 2 when no asset could be had (try the next way);
# exits 1 itself on a checksum problem.
install_release() {
  if [ -z "$os" ] || [ -z "$arch" ]; then
    say "no prebuilt binary for $(uname -s 2>/dev/null)/$(uname -m 2>/dev/null)"
    return 2
  fi
  base=${HELM_CCR_RELEASE_BASE_URL:-$release_repo/releases/download/v$version}
  base=${base%/}
  asset=${HELM_CCR_RELEASE_ASSET:-helm-ccr-$version-$os-$arch.tar.gz}
  case "$asset" in
    */* | "" | .*) die "HELM_CCR_RELEASE_ASSET=$asset is not a file name" ;;
  esac
  work=$(mktemp -d "${TMPDIR:-/tmp}/helm-ccr-install.XXXXXX") || die "cannot create a temporary directory"
  if [ -f "$plugin_dir/checksums.txt" ]; then
    sums="$plugin_dir/checksums.txt"
    sums_name="the plugin package's checksums.txt"
    # Refuse before downloading anything: the signed list must name this platform's asset.
    want=$(checksum_for "$sums" "$asset")
    [ -n "$want" ] || die "refusing $asset: $sums_name has no checksum for it; nothing was installed"
  else
    sums="$work/sha256sums.txt"
    sums_name="sha256sums.txt from $base"
  fi
  say "downloading $base/$asset"
  if ! fetch "$base/$asset" "$work/$asset"; then
    say "could not download $base/$asset"
    return 2
  fi
  if [ "$sums" = "$work/sha256sums.txt" ] && ! fetch "$base/sha256sums.txt" "$sums"; then
    say "could not download $base/sha256sums.txt"
    return 2
  fi
  # From here on every problem is a refusal: the asset exists but cannot be trusted.
  want=$(checksum_for "$sums" "$asset")
  [ -n "$want" ] || die "refusing $asset: $sums_name has no checksum for it; nothing was installed"
  got=$(sha256_of "$work/$asset") || die "refusing $asset: no sha256sum, shasum or openssl to check it with"
  if [ "$got" != "$want" ]; then
    die "refusing $asset: checksum mismatch (sha256 $got, $sums_name says $want); nothing was installed"
  fi
  mkdir "$work/x" || die "cannot create $work/x"
  tar -xzf "$work/$asset" -C "$work/x" || die "refusing $asset: not a readable .tar.gz"
  cand="$work/x/helm-ccr$exe"
  if [ -f "$cand" ] && [ ! -L "$cand" ]; then
    install_file "$cand"
    say "installed $asset (sha256 $got, as $sums_name says)"
    return 0
  fi
  die "refusing $asset: it holds no helm-ccr$exe binary"
}

# Returns 0 when built and installed, 2 when this is no source checkout or there is no cargo.
install_from_source() {
  if [ ! -f "$plugin_dir/Cargo.toml" ] || [ ! -f "$plugin_dir/src/main.rs" ]; then
    say "$plugin_dir is not a source checkout: cannot build from source"
    return 2
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    say "cargo is not on PATH: cannot build from source"
    return 2
  fi
  say "building from source: cargo build --release --locked (this takes a few minutes)"
  (cd "$plugin_dir" && cargo build --release --locked --bin helm-ccr) ||
    die "cargo build --release --locked failed (see above)"
  case "${CARGO_TARGET_DIR:-}" in
    "") built="$plugin_dir/target/release/helm-ccr$exe" ;;
    /*) built="$CARGO_TARGET_DIR/release/helm-ccr$exe" ;;
    *) built="$plugin_dir/$CARGO_TARGET_DIR/release/helm-ccr$exe" ;;
  esac
  [ -f "$built" ] || die "cargo build succeeded but $built does not exist"
  install_file "$built"
  say "installed $built"
}

# The ccr-getter plugin, beside this one: its manifest, a marker the delete hook looks for,
# and bin/helm-ccr linked to this plugin's binary (so an update here updates the getter too;
# a copy on Windows, where links need privileges).
install_getter() {
  plugins=$(dirname "$plugin_dir")
  getter="$plugins/ccr-getter"
  if [ -e "$getter" ] && [ ! -f "$getter/.helm-ccr-getter" ]; then
    die "$getter exists and was not written by this plugin: remove it, then run HELM_PLUGIN_DIR=\"$plugin_dir\" sh \"$plugin_dir/install-binary.sh\""
  fi
  rm -rf "$getter" || die "cannot remove the previous $getter"
  mkdir -p "$getter/bin" || die "cannot create $getter/bin"
  cp "$plugin_dir/getter/ccr-getter.yaml" "$getter/plugin.yaml" || die "cannot write $getter/plugin.yaml"
  if [ "$os" = windows ]; then
    cp "$target" "$getter/bin/helm-ccr$exe" || die "cannot copy $target to $getter/bin"
  else
    ln -s "$target" "$getter/bin/helm-ccr" || die "cannot link $getter/bin/helm-ccr to $target"
  fi
  printf 'written by the ccr plugin at %s; removed by its delete hook\n' "$plugin_dir" \
    >"$getter/.helm-ccr-getter" || die "cannot write $getter/.helm-ccr-getter"
  say "installed the ccr-getter plugin (ccr:// repositories) at $getter"
}

if [ -n "${HELM_CCR_BINARY:-}" ]; then
  if [ ! -f "$HELM_CCR_BINARY" ] || [ ! -x "$HELM_CCR_BINARY" ]; then
    die "HELM_CCR_BINARY=$HELM_CCR_BINARY is not an executable file"
  fi
  install_file "$HELM_CCR_BINARY"
  say "installed $HELM_CCR_BINARY"
else
  status=2
  if [ "${HELM_CCR_SKIP_DOWNLOAD:-0}" != 1 ]; then
    if install_release; then status=0; else status=$?; fi
  fi
  if [ "$status" != 0 ]; then
    if install_from_source; then status=0; else status=$?; fi
    if [ "$status" != 0 ]; then
      cat >&2 <<EOF
$me: error: no helm-ccr binary could be installed for v$version. Do one of these:
  - set HELM_CCR_BINARY=/path/to/helm-ccr (the binary in the release's
    helm-ccr-$version-<os>-<arch>.tar.gz, or your own build);
  - set HELM_CCR_RELEASE_BASE_URL to a mirror of the release assets (a URL, or a
    directory holding them);
  - install the Rust toolchain (https://rustup.rs), if the plugin is a source checkout;
then run the hook again:  HELM_PLUGIN_DIR="$plugin_dir" sh "$plugin_dir/install-binary.sh"
EOF
      advise
      exit 1
    fi
  fi
fi

# install_file smoke-ran the very file renamed into place; this checks the rename.
"$target" version >/dev/null || die "$target does not run ('helm-ccr version' failed)"
install_getter
say "$("$target" version 2>/dev/null | head -n 1) ready: try 'helm ccr --help'"
