#!/usr/bin/env bash
# Runs the by-hand verification steps of VERIFY.md against an audit package.
#
#   bash .ci/verify-md.sh PACKAGE_DIR [VERIFY.md]
#
# Extracts every ```sh block of VERIFY.md (default: PACKAGE_DIR/VERIFY.md), in order, into one
# script that starts with `set -euo pipefail`, runs it with bash in PACKAGE_DIR and exits with
# its status. Variables such as RUN, VKEY and TSA_CA pass through from the environment.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: bash .ci/verify-md.sh PACKAGE_DIR [VERIFY.md]" >&2
  exit 2
fi
package=$1
doc=${2:-$package/VERIFY.md}
[ -d "$package" ] || { echo "verify-md: $package is not a directory" >&2; exit 2; }
[ -f "$doc" ] || { echo "verify-md: $doc not found" >&2; exit 2; }
doc=$(cd "$(dirname "$doc")" && pwd)/$(basename "$doc")

script=$(mktemp)
trap 'rm -f "$script"' EXIT
{
  echo "set -euo pipefail"
  awk '
    /^```sh[ \t]*$/ { inside = 1; blocks++; print "# --- block " blocks; next }
    inside && /^```[ \t]*$/ { inside = 0; next }
    inside { print }
    END {
      if (inside) { print "unterminated sh block in VERIFY.md" > "/dev/stderr"; exit 2 }
      if (!blocks) { print "no sh blocks in VERIFY.md" > "/dev/stderr"; exit 2 }
    }' "$doc"
} > "$script"

status=0
(cd "$package" && bash "$script") || status=$?
exit "$status"
