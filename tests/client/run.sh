#!/usr/bin/env bash
# Generated clients: builds a Python client from openapi/openapi.json with
# openapi-python-client (pinned in tests/client/requirements.txt, installed into
# target/client-venv) and drives it through tests/client/smoke.py against a real
# `cloudcensus demo` server. Every response must parse into the model the document declares;
# any failure (generation included) fails the run.
#
#   tests/client/run.sh                          # on a temporary SQLite file
#   tests/client/run.sh postgres://postgres@127.0.0.1:5432/postgres
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
WORK=$(mktemp -d)
VENV=${CLIENT_VENV:-$ROOT/target/client-venv}

if ! "$VENV/bin/openapi-python-client" --version 2>/dev/null | grep -qF "$(sed -n 's/^openapi-python-client==//p' tests/client/requirements.txt)" \
  || ! "$VENV/bin/python" -c "import waldur_api_client" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/client/requirements.txt
fi
# shellcheck source=../lib/demo.sh
. tests/lib/demo.sh
cleanup() {
  stop_demo
  rm -rf "$WORK"
}
trap cleanup EXIT

# The generator formats its output with ruff, from the venv; a warning about the document
# means a construct it could not translate: that fails the run too.
(cd "$WORK" && PATH="$VENV/bin:$PATH" "$VENV/bin/openapi-python-client" generate \
  --path "$ROOT/openapi/openapi.json" --meta none --output-path cloudcensus_client) >"$WORK/generate.log" 2>&1 || {
  cat "$WORK/generate.log"; echo "client: generation failed"; exit 1; }
if grep -q "Warning" "$WORK/generate.log"; then
  cat "$WORK/generate.log"; echo "client: the generator warned about the document"; exit 1
fi

start_demo "$WORK" "${1:-}"
echo "client: $BASE"
PYTHONPATH="$WORK" "$VENV/bin/python" tests/client/smoke.py "$BASE" "$TOKEN"
# The published Waldur client (generated from Waldur's own document) reads the image endpoints.
"$VENV/bin/python" tests/client/waldur.py "$BASE" "$TOKEN"
