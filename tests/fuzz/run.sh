#!/usr/bin/env bash
# Schema fuzzing: schemathesis drives every operation of the OpenAPI document against a real
# `cloudcensus demo` server (simulated clouds, a populated catalog) on a throwaway database and
# checks that no answer is a server error and that every status, body and content type is the
# one the document declares.
#
#   tests/fuzz/run.sh                          # on a temporary SQLite file
#   tests/fuzz/run.sh postgres://postgres@127.0.0.1:5432/postgres
#                                              # on a fresh database made beside that one, then dropped
#
# FUZZ_EXAMPLES (default 100) and FUZZ_SEED (default 20261130) bound and fix the run; the
# binary is target/debug/cloudcensus (built first). Exit status: schemathesis's.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
EXAMPLES=${FUZZ_EXAMPLES:-100}
SEED=${FUZZ_SEED:-20261130}
WORK=$(mktemp -d)
VENV=${FUZZ_VENV:-$ROOT/target/fuzz-venv}

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$(cut -d= -f3 tests/fuzz/requirements.txt)"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/fuzz/requirements.txt
fi
# shellcheck source=../lib/demo.sh
. tests/lib/demo.sh
KIND=${1:+postgres}
KIND=${KIND:-sqlite}
cleanup() {
  stop_demo
  rm -rf "$WORK"
}
trap cleanup EXIT
start_demo "$WORK" "${1:-}"
echo "fuzz ($KIND): $BASE, $EXAMPLES examples per operation, seed $SEED"

# Revoking tokens is left out: the stateful phase would revoke the token the run uses, and
# every later request would only test the 401 path. Token revocation has its own tests.
# schemathesis keeps a cache in the working directory: run it from the throwaway one.
cd "$WORK"
"$VENV/bin/schemathesis" run "$BASE/api/openapi.json" \
  --header "Authorization: Token $TOKEN" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --exclude-operation-id tokens_destroy \
  --max-examples "$EXAMPLES" --seed "$SEED" \
  --request-timeout 30 --no-color
