#!/usr/bin/env bash
# Installs the Debian libraries Qt needs when they are missing (as root), or prints the one
# apt command to run. `offscreen` is enough for the tests; `window` adds the xcb platform's.
set -euo pipefail
mode=${1:-offscreen}
[ "$(uname -s)" = Linux ] || exit 0
command -v dpkg-query >/dev/null 2>&1 || exit 0

# One list, shared with the launcher's check before Qt starts: gui/qt_libs.py.
mapfile -t pkgs < <(python3 "$(dirname "$0")/../gui/qt_libs.py" packages "$mode")

missing=()
for p in "${pkgs[@]}"; do
  # Debian 13 renames some libraries with a t64 suffix; either name satisfies Qt.
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" && continue
  dpkg-query -W -f='${Status}' "${p}t64" 2>/dev/null | grep -q "ok installed" && continue
  missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
  echo "Installing Qt's system libraries: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Qt needs system libraries that are missing. Run:"
  echo "  sudo apt-get install -y ${missing[*]}"
  exit 1
fi
