#!/usr/bin/env bash
# OpenStack's own clients against the census's Glance face: python-glanceclient's `glance`
# command (and openstacksdk), pinned in tests/glanceclient/requirements.txt and installed
# into target/glanceclient-venv (GLANCECLIENT_VENV), read a real `cloudcensus demo` server
# through `/image/{cloud}` with a staff and a tenant-scoped census token. tests/glanceclient/
# check.py compares every listing (filters, sort, paging across pages), image-show, usage
# and import-info with the census's own answer over HTTP, and checks that writes fail with
# the read-only message. Any difference fails the run.
#
#   tests/glanceclient/run.sh                          # on a temporary SQLite file
#   tests/glanceclient/run.sh postgres://postgres@127.0.0.1:5432/postgres
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$(mktemp -d)
VENV=${GLANCECLIENT_VENV:-$ROOT/target/glanceclient-venv}

if ! "$VENV/bin/pip" freeze 2>/dev/null | grep -qxF "$(head -n1 tests/glanceclient/requirements.txt)"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/glanceclient/requirements.txt
fi
# shellcheck source=../lib/demo.sh
. tests/lib/demo.sh
cleanup() {
  stop_demo
  rm -rf "$WORK"
}
trap cleanup EXIT

start_demo "$WORK" "${1:-}"
echo "glanceclient: $BASE"
"$VENV/bin/python" tests/glanceclient/check.py "$BASE" "$TOKEN"
