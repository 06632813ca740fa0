#!/usr/bin/env bash
# Sets the one version of helm-ccr everywhere it is written down:
#   Cargo.toml ([package] version), Cargo.lock (the helm-ccr entry), plugin.yaml,
#   getter/ccr-getter.yaml, the serve chart's appVersion (deploy/helm-ccr-serve/Chart.yaml: the
#   image tag it deploys), and CHANGELOG.md (the [Unreleased] section becomes
#   "## [X.Y.Z] - today", under a new empty [Unreleased]; the links at the bottom follow).
#   scripts/bump-version.sh 0.2.0
# Then: write the release notes in CHANGELOG.md, commit, tag vX.Y.Z, push the tag (the release
# workflow does the rest). tests/it/release.rs fails while the files disagree.
# HELM_CCR_ROOT names another checkout to change (tests); TODAY overrides the date.
set -euo pipefail

root=${HELM_CCR_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
die() { echo "bump-version.sh: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: scripts/bump-version.sh X.Y.Z"
new=$1
# Strict SemVer 2 (Helm 4 refuses a plugin whose version is not), no leading v.
semver='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$'
[[ $new =~ $semver ]] || die "'$new' is not a SemVer version such as 1.2.3 (no leading v)"

for f in Cargo.toml Cargo.lock plugin.yaml getter/ccr-getter.yaml deploy/helm-ccr-serve/Chart.yaml CHANGELOG.md; do
  [ -f "$f" ] || die "$root/$f does not exist"
done
old=$(awk '/^\[package\]/{p=1; next} /^\[/{p=0} p && /^version *=/{gsub(/"/, "", $3); print $3; exit}' Cargo.toml)
[ -n "$old" ] || die "Cargo.toml has no [package] version"
today=${TODAY:-$(date -u +%Y-%m-%d)}

# Every file is rewritten beside itself and renamed into place only when all edits worked.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bump-version.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

awk -v v="$new" '
  /^\[/ { p = ($0 == "[package]") }
  p && !done && /^version *=/ { print "version = \"" v "\""; done = 1; next }
  { print }
  END { if (!done) exit 1 }' Cargo.toml >"$tmp/Cargo.toml" || die "no [package] version in Cargo.toml"

awk -v v="$new" '
  /^\[\[package\]\]/ { ours = 0 }
  /^name = "helm-ccr"$/ { ours = 1 }
  ours && /^version = / { print "version = \"" v "\""; ours = 0; done = 1; next }
  { print }
  END { if (!done) exit 1 }' Cargo.lock >"$tmp/Cargo.lock" || die "no helm-ccr entry in Cargo.lock"

for f in plugin.yaml getter/ccr-getter.yaml; do
  mkdir -p "$tmp/$(dirname "$f")"
  awk -v v="$new" '
    !done && /^version:/ { print "version: \"" v "\""; done = 1; next }
    { print }
    END { if (!done) exit 1 }' "$f" >"$tmp/$f" || die "no version: line in $f"
done

mkdir -p "$tmp/deploy/helm-ccr-serve"
awk -v v="$new" '
  !done && /^appVersion:/ { print "appVersion: \"" v "\""; done = 1; next }
  { print }
  END { if (!done) exit 1 }' deploy/helm-ccr-serve/Chart.yaml >"$tmp/deploy/helm-ccr-serve/Chart.yaml" ||
  die "no appVersion: line in deploy/helm-ccr-serve/Chart.yaml"

if grep -q "^## \[$new\]" CHANGELOG.md; then
  cp CHANGELOG.md "$tmp/CHANGELOG.md"
else
  repo=$(sed -n 's|^\[Unreleased\]: \(https://github.com/[^/]*/[^/]*\)/compare/.*|\1|p' CHANGELOG.md)
  [ -n "$repo" ] || die "CHANGELOG.md has no [Unreleased]: link to read the repository from"
  awk -v v="$new" -v d="$today" -v repo="$repo" '
    /^## \[Unreleased\]/ && !h { print; print ""; print "## [" v "] - " d; h = 1; next }
    /^\[Unreleased\]: / && !l {
      print "[Unreleased]: " repo "/compare/v" v "...HEAD"
      print "[" v "]: " repo "/releases/tag/v" v
      l = 1; next
    }
    { print }
    END { if (!h || !l) exit 1 }' CHANGELOG.md >"$tmp/CHANGELOG.md" ||
    die "CHANGELOG.md needs a '## [Unreleased]' heading and an '[Unreleased]: ' link"
fi

for f in Cargo.toml Cargo.lock plugin.yaml getter/ccr-getter.yaml deploy/helm-ccr-serve/Chart.yaml CHANGELOG.md; do
  cat "$tmp/$f" >"$f"
done
echo "bump-version.sh: $old -> $new in Cargo.toml, Cargo.lock, plugin.yaml, getter/ccr-getter.yaml, deploy/helm-ccr-serve/Chart.yaml (appVersion), CHANGELOG.md"
