#!/bin/sh
# What `mynaid readers` needs with a real reader (Debian/Ubuntu): the PC/SC service (pcscd)
# and what pyscard builds from (it has no Linux wheels): swig, libpcsclite-dev, a compiler
# and the Python headers. As root: install what is missing, then pyscard into the venv.
# Not root: print the one command that does it, and exit 0 (the demo needs none of it).
# MYNAID_DRY_RUN=1 prints what would be run (tests).
set -eu
PIP="${1:-.venv/bin/python -m pip}"
PACKAGES="pcscd libpcsclite-dev swig gcc python3-dev"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
run() {
    if [ "${MYNAID_DRY_RUN:-0}" = 1 ]; then echo "would run: $*"; else "$@"; fi
}
if [ "$(id -u)" != 0 ]; then
    if [ -n "$missing" ]; then
        echo "For a real reader (mynaid readers), run once:" >&2
        echo "  sudo apt-get install -y$missing && $PIP install 'pyscard>=2.0'" >&2
    fi
    exit 0
fi
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    run apt-get update -q
    # shellcheck disable=SC2086
    run apt-get install -y -q --no-install-recommends $missing
fi
# shellcheck disable=SC2086
run $PIP install -q 'pyscard>=2.0'
