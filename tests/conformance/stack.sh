#!/usr/bin/env bash
# Runs the real OpenStack Keystone and Glance (from PyPI) on loopback for conformance tests.
#
#   stack.sh up RUN_DIR     install (cached) into a venv, configure, migrate, bootstrap and
#                           start both services on free 127.0.0.1 ports; writes RUN_DIR/env
#   stack.sh down RUN_DIR   stop exactly the processes `up` started in RUN_DIR
#   stack.sh install        only create/refresh the venv
#
# Environment:
#   CONFORMANCE_VENV          venv to use (default: <repo>/target/conformance-venv)
#   CONFORMANCE_PYTHON        interpreter that creates the venv (default: python3)
#   CONFORMANCE_COMPUTE_STUB  1 (default) also runs compute_stub.py and registers it as the
#                             `compute` endpoint (there is no Nova here); 0 leaves it out
#   CONFORMANCE_OWNER_PID     if set, a watchdog runs `down` once that process has exited
#                             (so a test binary that dies without cleaning up leaves nothing)
#   CONFORMANCE_REMOVE_ON_EXIT  with CONFORMANCE_OWNER_PID: 1 makes the watchdog also delete
#                             RUN_DIR (logs included) after that `down`
#   CONFORMANCE_GLANCE_WORKERS  gunicorn workers for Glance (default 2; Keystone has one, so
#                             its in-memory cache stays coherent)
#   CONFORMANCE_START_TIMEOUT   seconds each service may take to answer (default 90)
#
# RUN_DIR/env holds KEY=value lines: OS_AUTH_URL, KEYSTONE_URL, GLANCE_URL, COMPUTE_URL,
# OS_ADMIN_USER, OS_ADMIN_PASSWORD, OS_ADMIN_PROJECT, OS_REGION_NAME, KEYSTONE_PID,
# GLANCE_PID, COMPUTE_PID, RUN_DIR. Logs are under RUN_DIR/keystone and RUN_DIR/glance.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${CONFORMANCE_VENV:-$ROOT/target/conformance-venv}
PYTHON=${CONFORMANCE_PYTHON:-python3}
REGION=RegionOne
SERVICES=(glance compute keystone)

log() { echo "stack.sh: $*" >&2; }
die() {
    log "$*"
    exit 1
}
usage() { die "usage: $0 up RUN_DIR | down RUN_DIR | install"; }

now_ms() { date +%s%3N; }

# --- installation -----------------------------------------------------------------------

install_venv() {
    local started hash marker
    started=$(now_ms)
    mkdir -p "$(dirname "$VENV")"
    # Two concurrent `up`s must not pip-install into the same venv at once.
    exec 9>"$VENV.lock"
    flock 9
    hash=$({
        cat "$HERE/requirements.txt"
        "$PYTHON" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1)
    marker="$VENV/.conformance-requirements.sha256"
    if [[ -f $marker && $(cat "$marker") == "$hash" ]]; then
        log "venv $VENV is up to date ($(($(now_ms) - started)) ms)"
    else
        log "installing $(grep -v '^#' "$HERE/requirements.txt" | tr '\n' ' ')into $VENV"
        [[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"
        rm -rf "$VENV/db-templates"
        echo "$hash" >"$marker"
        log "installed in $(($(now_ms) - started)) ms"
    fi
    [[ -f $VENV/db-templates/.done ]] || make_db_templates
    flock -u 9
    exec 9>&-
}

# Empty, migrated Keystone and Glance databases, copied by every `up`: their migrations take
# seconds, the copy none. Rebuilt whenever the venv is reinstalled.
make_db_templates() {
    local started dir
    started=$(now_ms)
    dir="$VENV/db-templates"
    rm -rf "$dir"
    mkdir -p "$dir/keystone" "$dir/glance"
    render "$HERE/keystone.conf.in" "$dir/keystone/keystone.conf" "RUN_DIR=$dir"
    render "$HERE/glance-api.conf.in" "$dir/glance/glance-api.conf" "RUN_DIR=$dir" \
        "KEYSTONE_URL=http://127.0.0.1:1" "GLANCE_PASSWORD=unused" "IMAGE_ENDPOINT_ID=unused"
    "$VENV/bin/glance-manage" --config-file "$dir/glance/glance-api.conf" db_sync >"$dir/glance/manage.log" 2>&1 &
    local glance_job=$!
    "$VENV/bin/keystone-manage" --config-file "$dir/keystone/keystone.conf" db_sync >"$dir/keystone/manage.log" 2>&1 ||
        die "keystone-manage db_sync failed: see $dir/keystone/manage.log"
    wait "$glance_job" || die "glance-manage db_sync failed: see $dir/glance/manage.log"
    touch "$dir/.done"
    log "migrated template databases in $(($(now_ms) - started)) ms"
}

# --- helpers ------------------------------------------------------------------------------

free_port() {
    "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

random_secret() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# render TEMPLATE OUT KEY=value...: replaces @KEY@ in TEMPLATE.
render() {
    local template=$1 out=$2 text kv
    shift 2
    text=$(<"$template")
    for kv in "$@"; do
        text=${text//"@${kv%%=*}@"/"${kv#*=}"}
    done
    local unfilled
    unfilled=$(grep -v '^#' <<<"$text" | grep -o '@[A-Z_]*@' | head -n 1 || true)
    [[ -z $unfilled ]] || die "render $template: $unfilled left unfilled"

    printf '%s\n' "$text" >"$out"
}

# pid_alive PID NEEDLE: the process exists and its command line mentions NEEDLE (guards
# against a recycled PID).
pid_alive() {
    local pid=$1 needle=$2
    [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
    # The process may exit between the test above and this read.
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q -- "$needle"
}

needle_of() {
    case $1 in
    keystone | glance) echo gunicorn ;;
    compute) echo compute_stub.py ;;
    watchdog) echo stack.sh ;;
    esac
}

# start_gunicorn NAME PORT WSGI_APP WORKERS THREADS ENV=value...
start_gunicorn() {
    local name=$1 port=$2 app=$3 workers=$4 threads=$5 dir="$RUN/$1"
    shift 5
    render "$HERE/gunicorn.conf.py.in" "$dir/gunicorn.conf.py" \
        "WSGI_APP=$app" "PORT=$port" "WORKERS=$workers" "THREADS=$threads" "DIR=$dir"
    # No command-line flags: gunicorn reads ./gunicorn.conf.py, and the apps parse argv.
    (cd "$dir" && exec env "$@" "$VENV/bin/gunicorn") </dev/null >"$dir/stderr.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
}

# wait_http NAME URL: until URL answers (any status below 500), or the process died.
wait_http() {
    local name=$1 url=$2 pid code deadline
    pid=$(<"$RUN/$name.pid")
    deadline=$(($(date +%s) + ${CONFORMANCE_START_TIMEOUT:-90}))
    while :; do
        code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$url" || true)
        if [[ $code =~ ^[234] ]]; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 "$RUN/$name/stderr.log" "$RUN/$name/gunicorn.log" >&2 2>/dev/null || true
            die "$name (pid $pid) exited before answering $url"
        fi
        if (($(date +%s) > deadline)); then
            tail -n 40 "$RUN/$name/stderr.log" "$RUN/$name/gunicorn.log" >&2 2>/dev/null || true
            die "$name did not answer $url in time (last status ${code:-none})"
        fi
        sleep 0.2
    done
}

# --- up -----------------------------------------------------------------------------------

already_up() {
    [[ -f $RUN/env ]] || return 1
    local name pid
    for name in keystone glance; do
        pid=$(cat "$RUN/$name.pid" 2>/dev/null || true)
        pid_alive "$pid" gunicorn || return 1
    done
}

cmd_up() {
    local started kport gport nport admin_pw glance_pw kurl gurl nurl endpoint_id
    started=$(now_ms)
    if already_up; then
        log "already up in $RUN"
        return 0
    fi
    install_venv
    local t_install
    t_install=$(now_ms)
    # A half-started stack from an earlier failed `up` goes first.
    cmd_down >/dev/null 2>&1 || true
    UP_OK=0
    trap 'if [[ $UP_OK != 1 ]]; then log "up failed; stopping what was started (logs in $RUN)"; cmd_down || true; fi' EXIT
    rm -rf "$RUN/keystone" "$RUN/glance" "$RUN/glance-images" "$RUN/env"
    mkdir -p "$RUN"/keystone/{fernet-keys,credential-keys} "$RUN"/glance/{staging,tasks} "$RUN/glance-images"

    kport=$(free_port)
    gport=$(free_port)
    while [[ $gport == "$kport" ]]; do gport=$(free_port); done
    kurl="http://127.0.0.1:$kport"
    gurl="http://127.0.0.1:$gport"
    admin_pw=$(random_secret)
    glance_pw=$(random_secret)

    # Migrated databases come from the templates (see make_db_templates).
    render "$HERE/keystone.conf.in" "$RUN/keystone/keystone.conf" "RUN_DIR=$RUN"
    local gdir="$RUN/glance"
    render "$HERE/glance-api.conf.in" "$gdir/glance-api.conf" \
        "RUN_DIR=$RUN" "KEYSTONE_URL=$kurl" "GLANCE_PASSWORD=$glance_pw" "IMAGE_ENDPOINT_ID=pending"
    cp "$VENV/etc/glance/glance-api-paste.ini" "$gdir/glance-api-paste.ini"
    local kconf=(--config-file "$RUN/keystone/keystone.conf")
    local kmanage="$VENV/bin/keystone-manage"
    cp "$VENV/db-templates/keystone/keystone.db" "$RUN/keystone/keystone.db"
    cp "$VENV/db-templates/glance/glance.db" "$gdir/glance.db"
    # What `keystone-manage fernet_setup` and `credential_setup` write (a staged key 0 and a
    # primary key 1, each urlsafe-base64 of 32 random bytes, mode 0600), without their
    # seconds of imports.
    "$VENV/bin/python" - "$RUN/keystone/fernet-keys" "$RUN/keystone/credential-keys" <<'PY'
import base64, os, sys
for repo in sys.argv[1:]:
    os.makedirs(repo, mode=0o700, exist_ok=True)
    for name in ("0", "1"):
        fd = os.open(os.path.join(repo, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, base64.urlsafe_b64encode(os.urandom(32)))
        os.close(fd)
PY
    local t_prepared
    t_prepared=$(now_ms)
    # The worker's imports take seconds: start it while bootstrap fills the database (nothing
    # asks it anything that touches the database until wait_http has seen it answer).
    start_gunicorn keystone "$kport" keystone.wsgi.api:application 1 8 \
        "OS_KEYSTONE_CONFIG_DIR=$RUN/keystone"
    "$kmanage" "${kconf[@]}" bootstrap \
        --bootstrap-password "$admin_pw" \
        --bootstrap-username admin \
        --bootstrap-project-name admin \
        --bootstrap-role-name admin \
        --bootstrap-service-name keystone \
        --bootstrap-region-id "$REGION" \
        --bootstrap-admin-url "$kurl/v3" \
        --bootstrap-internal-url "$kurl/v3" \
        --bootstrap-public-url "$kurl/v3" >"$RUN/keystone/bootstrap.log" 2>&1 ||
        die "keystone-manage bootstrap failed: see $RUN/keystone/bootstrap.log"
    local t_keystone_started
    t_keystone_started=$(now_ms)

    nurl=""
    if [[ ${CONFORMANCE_COMPUTE_STUB:-1} == 1 ]]; then
        nport=$(free_port)
        mkdir -p "$RUN/compute"
        "$VENV/bin/python" "$HERE/compute_stub.py" "$nport" </dev/null >"$RUN/compute/stderr.log" 2>&1 &
        echo $! >"$RUN/compute.pid"
        nurl="http://127.0.0.1:$nport/v2.1"
    fi

    wait_http keystone "$kurl/v3"
    local t_keystone_up
    t_keystone_up=$(now_ms)
    endpoint_id=$("$VENV/bin/python" "$HERE/bootstrap.py" "$kurl" "$admin_pw" "$gurl" "$glance_pw" $nurl)
    endpoint_id=${endpoint_id#IMAGE_ENDPOINT_ID=}
    render "$HERE/glance-api.conf.in" "$gdir/glance-api.conf" \
        "RUN_DIR=$RUN" "KEYSTONE_URL=$kurl" "GLANCE_PASSWORD=$glance_pw" "IMAGE_ENDPOINT_ID=$endpoint_id"
    local t_bootstrapped
    t_bootstrapped=$(now_ms)

    start_gunicorn glance "$gport" glance.wsgi.api:application "${CONFORMANCE_GLANCE_WORKERS:-2}" 4 \
        "OS_GLANCE_CONFIG_DIR=$gdir"
    wait_http glance "$gurl/"
    [[ -z $nurl ]] || wait_http compute "$nurl"

    {
        echo "RUN_DIR=$RUN"
        echo "OS_AUTH_URL=$kurl/v3"
        echo "KEYSTONE_URL=$kurl"
        echo "GLANCE_URL=$gurl"
        echo "COMPUTE_URL=$nurl"
        echo "OS_ADMIN_USER=admin"
        echo "OS_ADMIN_PASSWORD=$admin_pw"
        echo "OS_ADMIN_PROJECT=admin"
        echo "OS_USER_DOMAIN_ID=default"
        echo "OS_PROJECT_DOMAIN_ID=default"
        echo "OS_REGION_NAME=$REGION"
        echo "IMAGE_ENDPOINT_ID=$endpoint_id"
        echo "KEYSTONE_PID=$(<"$RUN/keystone.pid")"
        echo "GLANCE_PID=$(<"$RUN/glance.pid")"
        echo "COMPUTE_PID=$(cat "$RUN/compute.pid" 2>/dev/null || true)"
    } >"$RUN/env.tmp"
    mv "$RUN/env.tmp" "$RUN/env"
    UP_OK=1

    if [[ -n ${CONFORMANCE_OWNER_PID:-} ]]; then
        local owner=$CONFORMANCE_OWNER_PID
        nohup bash -c '
            while kill -0 "$1" 2>/dev/null && [[ -f "$2/env" ]]; do sleep 1; done
            CONFORMANCE_IN_WATCHDOG=1 "$3" down "$2"
            # Only a directory that `up` laid out (never an arbitrary path) is removed.
            if [[ $4 == 1 && -f "$2/keystone/keystone.conf" && -f "$2/glance/glance-api.conf" ]]; then
                rm -rf -- "$2"
            fi
        ' stack.sh-watchdog "$owner" "$RUN" "$HERE/stack.sh" "${CONFORMANCE_REMOVE_ON_EXIT:-0}" </dev/null >"$RUN/watchdog.log" 2>&1 &
        echo $! >"$RUN/watchdog.pid"
    fi

    local t_end
    t_end=$(now_ms)
    log "up in $((t_end - started)) ms (install check $((t_install - started)), db/keys $((t_prepared - t_install)), keystone bootstrap $((t_keystone_started - t_prepared)), keystone $((t_keystone_up - t_keystone_started)) more to answer, bootstrap $((t_bootstrapped - t_keystone_up)), glance $((t_end - t_bootstrapped))): keystone $kurl, glance $gurl${nurl:+, compute stub $nurl}"
}

# --- down ---------------------------------------------------------------------------------

cmd_down() {
    local started name pid pids=() deadline
    started=$(now_ms)
    [[ -d $RUN ]] || return 0
    local names=("${SERVICES[@]}")
    # The watchdog calls `down` itself; it must not signal itself.
    if [[ -n ${CONFORMANCE_IN_WATCHDOG:-} ]]; then
        rm -f "$RUN/watchdog.pid"
    else
        names+=(watchdog)
    fi
    for name in "${names[@]}"; do
        pid=$(cat "$RUN/$name.pid" 2>/dev/null || true)
        if pid_alive "$pid" "$(needle_of "$name")"; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid:$name")
        fi
        rm -f "$RUN/$name.pid"
    done
    rm -f "$RUN/env"
    deadline=$(($(date +%s) + 20))
    local entry left
    while :; do
        left=()
        for entry in "${pids[@]}"; do
            pid=${entry%%:*}
            name=${entry#*:}
            pid_alive "$pid" "$(needle_of "$name")" && left+=("$entry")
        done
        ((${#left[@]})) || break
        if (($(date +%s) > deadline)); then
            for entry in "${left[@]}"; do
                log "${entry#*:} (pid ${entry%%:*}) ignored SIGTERM; killing it"
                kill -KILL "${entry%%:*}" 2>/dev/null || true
            done
            sleep 0.5
            break
        fi
        sleep 0.1
    done
    log "down in $(($(now_ms) - started)) ms (stopped ${#pids[@]} processes)"
}

# --- main ---------------------------------------------------------------------------------

(($# >= 1)) || usage
case $1 in
install)
    install_venv
    ;;
up | down)
    (($# == 2)) || usage
    mkdir -p "$2"
    RUN=$(cd "$2" && pwd)
    "cmd_$1"
    ;;
*) usage ;;
esac
