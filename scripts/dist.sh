#!/usr/bin/env bash
# Builds what a release publishes, into dist/ (HELM_CCR_DIST_DIR to change):
#   helm-ccr-<version>-<os>-<arch>.tar.gz   the binary (helm-ccr, helm-ccr.exe on Windows),
#                                           LICENSE and README.md; one per platform. On Linux
#                                           only a static binary gets this name (the release's
#                                           musl build; what the install hook downloads); a
#                                           glibc-linked one is named ...-linux-<arch>-glibc.tar.gz,
#                                           with a warning on stderr (the hook takes it only when
#                                           HELM_CCR_RELEASE_ASSET names it, as the tests do)
#   ccr-<version>.tgz                       the plugin package for `helm plugin install` (Helm 4):
#                                           ccr/plugin.yaml (first), install-binary.sh, getter/,
#                                           completion.yaml, plugin.complete (shell completion),
#                                           LICENSE, README.md, CHANGELOG.md, and checksums.txt
#                                           naming the sha256 of every platform asset above
#   ccr-<version>.tgz.prov                  its signature, in Helm's provenance format, when a
#                                           signing key is given
#   helm-ccr-release-key.gpg                then also the signer's public key (binary): the
#                                           --keyring users pass to `helm plugin install`
#   sha256sums.txt                          `sha256sum` format, over every file above
#
#   scripts/dist.sh [TARGET]          build for the host (or a Rust target triple), then package:
#                                     what a maintainer runs locally. On a Linux host without
#                                     TARGET it builds <arch>-unknown-linux-musl when that
#                                     target is installed (`rustup target add ...`; ring needs a
#                                     musl C compiler, e.g. musl-tools), else the glibc build
#   scripts/dist.sh build [TARGET]    only the platform asset (one release runner per target)
#   scripts/dist.sh package           checksums.txt, the plugin package, its .prov and
#                                     sha256sums.txt, from the platform assets already in dist/
#   scripts/dist.sh version           print the version (after checking the manifests agree)
#   scripts/dist.sh notes             print CHANGELOG.md's section for the version
#
# Environment:
#   HELM_CCR_SIGN_KEY=NAME            sign the plugin package with this GnuPG key (user id or
#                                     fingerprint); without it no .prov is written
#   HELM_CCR_KEYRING=FILE             a secret keyring (`gpg --export-secret-keys` output,
#                                     binary or armored) holding that key; without it, the
#                                     user's own GnuPG (agent) signs
#   HELM_CCR_SIGN_PASSPHRASE_FILE=F   the key's passphrase, if it has one
#   HELM_CCR_DIST_PLATFORMS="linux-amd64 ..."  `package` insists on exactly these assets
#   HELM_CCR_DIST_BINARY=FILE         `build`: package this already-built binary instead of
#                                     running cargo (tests); on Linux named by its linkage too
#   SOURCE_DATE_EPOCH                 the time stamp inside every archive (default: the last
#                                     commit's time): the same inputs give the same bytes
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dist=${HELM_CCR_DIST_DIR:-$root/dist}
case "$dist" in /*) ;; *) dist="$root/$dist" ;; esac

die() { echo "dist.sh: error: $*" >&2; exit 1; }
say() { echo "dist.sh: $*" >&2; }

# The value of `version:` in a plugin manifest.
manifest_version() {
  sed -n 's/^version:[[:space:]]*"\{0,1\}\([^" ]*\)"\{0,1\}[[:space:]]*$/\1/p' "$1" | head -n 1
}

# One version everywhere (tests/it/release.rs checks CHANGELOG.md and Cargo.lock too).
version=$(manifest_version plugin.yaml)
[ -n "$version" ] || die "plugin.yaml has no version"
cargo_version=$(awk '/^\[package\]/{p=1; next} /^\[/{p=0} p && /^version *=/{gsub(/"/, "", $3); print $3; exit}' Cargo.toml)
getter_version=$(manifest_version getter/ccr-getter.yaml)
if [ "$cargo_version" != "$version" ] || [ "$getter_version" != "$version" ]; then
  die "versions disagree: plugin.yaml $version, Cargo.toml $cargo_version, getter/ccr-getter.yaml $getter_version (scripts/bump-version.sh sets them all)"
fi
name=$(sed -n 's/^name:[[:space:]]*"\{0,1\}\([^" ]*\)"\{0,1\}[[:space:]]*$/\1/p' plugin.yaml | head -n 1)
[ "$name" = ccr ] || die "plugin.yaml names the plugin '$name', not 'ccr'"

# A Python that runs (on Windows `python3` may be a stub that opens the Store).
python=""
for p in python3 python; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import tarfile, gzip' >/dev/null 2>&1; then
    python=$p
    break
  fi
done

# A path a native (non-MSYS) program understands: C:/... under Git Bash on Windows.
native() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -m "$1"; else printf '%s\n' "$1"; fi
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

mtime() {
  if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    echo "$SOURCE_DATE_EPOCH"
  elif git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$root" log -1 --format=%ct
  else
    echo 0
  fi
}

# mktar OUT [--exec NAME]... NAME=PATH...: a reproducible .tar.gz (scripts/mktar.py).
mktar() {
  [ -n "$python" ] || die "python3 is needed to write the archives"
  local out=$1 args=() a
  shift
  for a in "$@"; do
    case "$a" in
      *=*) args+=("${a%%=*}=$(native "${a#*=}")") ;;
      *) args+=("$a") ;;
    esac
  done
  "$python" "$(native "$root/scripts/mktar.py")" "$(native "$out")" "$(mtime)" "${args[@]}"
}

# platform_of TARGET: "<os>-<arch>" as the assets name them.
platform_of() {
  local os arch
  case "$1" in
    *-linux-*) os=linux ;;
    *-apple-darwin) os=darwin ;;
    *-windows-*) os=windows ;;
    *) die "no release platform for the target $1" ;;
  esac
  case "$1" in
    x86_64-*) arch=amd64 ;;
    aarch64-*) arch=arm64 ;;
    *) die "no release architecture for the target $1" ;;
  esac
  echo "$os-$arch"
}

# elf_interp FILE: the program interpreter (dynamic loader) an ELF binary names, empty for a
# static one; "not-elf" for anything else.
elf_interp() {
  [ -n "$python" ] || die "python3 is needed to inspect $1"
  "$python" - "$(native "$1")" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    h = f.read(64)
    if h[:4] != b"\x7fELF":
        print("not-elf")
        sys.exit(0)
    wide, e = h[4] == 2, "<" if h[5] == 1 else ">"
    if wide:
        phoff = struct.unpack_from(e + "Q", h, 32)[0]
        phentsize, phnum = struct.unpack_from(e + "HH", h, 54)
    else:
        phoff = struct.unpack_from(e + "I", h, 28)[0]
        phentsize, phnum = struct.unpack_from(e + "HH", h, 42)
    for i in range(phnum):
        f.seek(phoff + i * phentsize)
        ph = f.read(phentsize)
        if struct.unpack_from(e + "I", ph, 0)[0] != 3:  # PT_INTERP
            continue
        off, size = (struct.unpack_from(e + "QQQQQ", ph, 8)[0::4] if wide
                     else struct.unpack_from(e + "IIIII", ph, 4)[0::4])
        f.seek(off)
        print(f.read(size).rstrip(b"\0").decode("latin-1"))
        break
PY
}

build() {
  local target=${1:-} host platform exe="" binary target_dir musl
  host=$(rustc -vV 2>/dev/null | sed -n 's/^host: //p') || true
  if [ -z "$target" ]; then
    [ -n "$host" ] || die "cannot tell the host's Rust target (is rustc on PATH?); name one"
    platform=$(platform_of "$host")
    # A Linux release asset is a static musl binary: build that when the target is there.
    case "$host" in
      *-linux-gnu*)
        musl="${host%%-*}-unknown-linux-musl"
        if [ -z "${HELM_CCR_DIST_BINARY:-}" ] &&
          rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
          target=$musl
        fi
        ;;
    esac
  else
    platform=$(platform_of "$target")
  fi
  case "$platform" in windows-*) exe=.exe ;; esac
  if [ -n "${HELM_CCR_DIST_BINARY:-}" ]; then
    binary=$HELM_CCR_DIST_BINARY
    say "packaging the prebuilt $binary as $platform"
  else
    target_dir=${CARGO_TARGET_DIR:-$root/target}
    case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
    if [ -n "$target" ]; then
      say "cargo build --release --locked --target $target"
      cargo build --release --locked --bin helm-ccr --target "$target"
      binary="$target_dir/$target/release/helm-ccr$exe"
    else
      say "cargo build --release --locked (host: $host)"
      cargo build --release --locked --bin helm-ccr
      binary="$target_dir/release/helm-ccr$exe"
    fi
  fi
  [ -f "$binary" ] || die "$binary does not exist"
  # Only a static Linux binary may carry the release name the install hook downloads.
  local interp="" flavour=""
  case "$platform" in
    linux-*)
      interp=$(elf_interp "$binary") || die "cannot inspect $binary"
      case "$interp" in
        "") ;;
        not-elf) say "WARNING: $binary is no ELF binary (a test stand-in?): packaged as it is" ;;
        *ld-linux*) flavour=-glibc ;;
        *) flavour=-dynamic ;;
      esac
      ;;
  esac
  mkdir -p "$dist"
  rm -f "$dist/helm-ccr-$version-$platform.tar.gz" "$dist/helm-ccr-$version-$platform-glibc.tar.gz" \
    "$dist/helm-ccr-$version-$platform-dynamic.tar.gz"
  local asset="$dist/helm-ccr-$version-$platform$flavour.tar.gz"
  if [ -n "$flavour" ]; then
    musl=${target:-$host}
    musl="${musl%%-*}-unknown-linux-musl"
    {
      echo "dist.sh: WARNING: $binary is dynamically linked (loader $interp), not the static musl"
      echo "dist.sh: WARNING: binary a release ships: it is packaged as $(basename "$asset"),"
      echo "dist.sh: WARNING: which is no release asset and which the install hook does not pick"
      echo "dist.sh: WARNING: unless HELM_CCR_RELEASE_ASSET names it. For the release asset:"
      echo "dist.sh: WARNING:   rustup target add $musl  (and a musl C compiler: musl-tools)"
    } >&2
  fi
  mktar "$asset" --exec "helm-ccr$exe" \
    "helm-ccr$exe=$binary" "LICENSE=$root/LICENSE" "README.md=$root/README.md"
  say "wrote $asset"
}

# sign TGZ: TGZ.prov in Helm's provenance format, and the signer's public key (binary, what
# `helm plugin install --keyring` reads) as helm-ccr-release-key.gpg beside it.
sign() {
  local tgz=$1 prov="$1.prov" pub msg gnupg="" status=0 fpr=""
  pub="$(dirname "$tgz")/helm-ccr-release-key.gpg"
  msg=$(mktemp "${TMPDIR:-/tmp}/helm-ccr-prov.XXXXXX")
  # Helm's provenance message: the plugin's metadata, a line `...`, then the file's sha256
  # under its file name (Helm checks the name too: publish the package under this name).
  {
    cat "$root/plugin.yaml"
    printf '\n...\nfiles:\n  %s: sha256:%s\n' "$(basename "$tgz")" "$(sha256 "$tgz")"
  } >"$msg"
  local sign_args=(--yes --armor --digest-algo SHA512 --local-user "$HELM_CCR_SIGN_KEY")
  if [ -n "${HELM_CCR_SIGN_PASSPHRASE_FILE:-}" ]; then
    sign_args+=(--pinentry-mode loopback --passphrase-file "$HELM_CCR_SIGN_PASSPHRASE_FILE")
  fi
  if [ -n "${HELM_CCR_KEYRING:-}" ]; then
    gnupg=$(mktemp -d "${TMPDIR:-/tmp}/helm-ccr-gnupg.XXXXXX")
    chmod 700 "$gnupg"
  fi
  # gpg ARGS...: the user's GnuPG, or a throwaway home holding only HELM_CCR_KEYRING.
  run_gpg() {
    if [ -n "$gnupg" ]; then GNUPGHOME=$gnupg gpg --batch "$@"; else gpg --batch "$@"; fi
  }
  if [ -n "$gnupg" ]; then run_gpg --quiet --import "$HELM_CCR_KEYRING" 2>/dev/null || status=$?; fi
  if [ "$status" = 0 ]; then
    fpr=$(run_gpg --with-colons --list-secret-keys -- "$HELM_CCR_SIGN_KEY" 2>/dev/null |
      awk -F: '$1 == "fpr" { print $10; exit }')
    [ -n "$fpr" ] || status=1
  fi
  if [ "$status" = 0 ]; then
    run_gpg "${sign_args[@]}" --output "$prov.tmp" --clearsign "$msg" || status=$?
  fi
  if [ "$status" = 0 ]; then
    run_gpg --export "$fpr" >"$pub.tmp" || status=$?
  fi
  if [ -n "$gnupg" ]; then
    GNUPGHOME=$gnupg gpgconf --kill all >/dev/null 2>&1 || true
    rm -rf "$gnupg"
  fi
  rm -f "$msg"
  if [ "$status" != 0 ] || [ ! -s "$prov.tmp" ] || [ ! -s "$pub.tmp" ]; then
    rm -f "$prov.tmp" "$pub.tmp"
    die "could not sign $(basename "$tgz") with the key '$HELM_CCR_SIGN_KEY'${HELM_CCR_KEYRING:+ from $HELM_CCR_KEYRING}"
  fi
  mv -f "$prov.tmp" "$prov"
  mv -f "$pub.tmp" "$pub"
  say "wrote $prov (signed by $HELM_CCR_SIGN_KEY, fingerprint $fpr) and its public key $pub"
}

package() {
  local tgz="$dist/ccr-$version.tgz" stage assets=() a
  mkdir -p "$dist"
  rm -f "$tgz.prov" "$dist/helm-ccr-release-key.gpg" "$dist/sha256sums.txt"
  shopt -s nullglob
  for a in "$dist/helm-ccr-$version-"*.tar.gz; do assets+=("$(basename "$a")"); done
  shopt -u nullglob
  [ ${#assets[@]} -gt 0 ] || die "no helm-ccr-$version-*.tar.gz in $dist: run 'scripts/dist.sh build [TARGET]' first"
  for a in "${assets[@]}"; do
    case "$a" in
      *-glibc.tar.gz | *-dynamic.tar.gz)
        echo "dist.sh: WARNING: $a (dynamically linked) goes into checksums.txt: this package is no release" >&2
        ;;
    esac
  done
  if [ -n "${HELM_CCR_DIST_PLATFORMS:-}" ]; then
    local want=() have=() p
    for p in $HELM_CCR_DIST_PLATFORMS; do want+=("helm-ccr-$version-$p.tar.gz"); done
    mapfile -t want < <(printf '%s\n' "${want[@]}" | LC_ALL=C sort)
    mapfile -t have < <(printf '%s\n' "${assets[@]}" | LC_ALL=C sort)
    [ "${want[*]}" = "${have[*]}" ] ||
      die "the assets in $dist (${have[*]}) are not those of HELM_CCR_DIST_PLATFORMS (${want[*]})"
  fi

  stage=$(mktemp -d "${TMPDIR:-/tmp}/helm-ccr-dist.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the stage directory of this call
  trap "rm -rf '$stage'" RETURN
  (cd "$dist" && for a in "${assets[@]}"; do
    printf '%s  %s\n' "$(sha256 "$a")" "$a"
  done | LC_ALL=C sort -k 2) >"$stage/checksums.txt"

  # plugin.yaml first: Helm takes the first file named plugin.yaml in the tarball as the
  # manifest it reads and signs, and it is the only one (the getter's is getter/ccr-getter.yaml).
  mktar "$tgz" --exec ccr/install-binary.sh --exec ccr/plugin.complete \
    "ccr/plugin.yaml=$root/plugin.yaml" \
    "ccr/CHANGELOG.md=$root/CHANGELOG.md" \
    "ccr/LICENSE=$root/LICENSE" \
    "ccr/README.md=$root/README.md" \
    "ccr/checksums.txt=$stage/checksums.txt" \
    "ccr/completion.yaml=$root/completion.yaml" \
    "ccr/getter/ccr-getter.yaml=$root/getter/ccr-getter.yaml" \
    "ccr/install-binary.sh=$root/install-binary.sh" \
    "ccr/plugin.complete=$root/plugin.complete"
  say "wrote $tgz (checksums.txt: ${assets[*]})"

  if [ -n "${HELM_CCR_SIGN_KEY:-}" ]; then
    sign "$tgz"
  else
    say "HELM_CCR_SIGN_KEY is not set: no .prov (Helm 4 then needs --verify=false)"
  fi

  local files=("${assets[@]}" "ccr-$version.tgz")
  if [ -f "$tgz.prov" ]; then files+=("ccr-$version.tgz.prov" helm-ccr-release-key.gpg); fi
  (cd "$dist" && for a in "${files[@]}"; do
    printf '%s  %s\n' "$(sha256 "$a")" "$a"
  done | LC_ALL=C sort -k 2) >"$dist/sha256sums.txt.tmp"
  mv -f "$dist/sha256sums.txt.tmp" "$dist/sha256sums.txt"
  say "wrote $dist/sha256sums.txt"
}

notes() {
  local text
  text=$(awk -v v="$version" '
    index($0, "## [" v "]") == 1 { on = 1; next }
    on && (/^## \[/ || /^\[[^]]*\]: /) { exit }
    on { print }' CHANGELOG.md | sed -e '/./,$!d')
  [ -n "$text" ] || die "CHANGELOG.md has no section for $version"
  printf '%s\n' "$text"
}

case "${1:-}" in
  build) shift; build "${1:-}" ;;
  package) package ;;
  version) echo "$version" ;;
  notes) notes ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' ;;
  -*) die "unknown option $1 (see --help)" ;;
  *)
    build "${1:-}"
    package
    ;;
esac
