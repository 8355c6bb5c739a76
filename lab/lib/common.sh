# Shared helpers for the lab recipes (sourced, not run).
# shellcheck shell=bash

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_CACHE=${LAB_CACHE:-/root/.cache/sparks/lab}
LAB_PREFIX=${LAB_PREFIX:-stacked-sparks-lab}
LAB_BASE_IMAGE=${LAB_BASE_IMAGE:-$LAB_PREFIX/debian:bookworm}
LAB_HASH_LABEL=org.stacked-sparks.lab.recipe-hash

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${LAB_STEP:-lab}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Content hash of a recipe directory (all files except the build context and state),
# plus any extra strings (e.g. the base image id) given as arguments.
recipe_hash() {
    local dir=$1; shift
    {
        (cd "$dir" && find . -path ./context -prune -o -type f -print | LC_ALL=C sort | xargs -r sha256sum)
        printf '%s\n' "$@"
    } | sha256sum | cut -c1-16
}

# True when image TAG exists and carries LAB_HASH_LABEL=HASH.
image_current() {
    local tag=$1 hash=$2 have
    have=$(docker image inspect --format "{{ index .Config.Labels \"$LAB_HASH_LABEL\" }}" "$tag" 2>/dev/null) || return 1
    [ "$have" = "$hash" ]
}

# Run a long command, printing a progress line every PROGRESS_EVERY seconds (default 20)
# and its output to a log file; on failure show the log's tail.
run_logged() {
    local logf=$1; shift
    local every=${PROGRESS_EVERY:-20} start=$SECONDS pid rc
    mkdir -p "$(dirname "$logf")"
    log "running: $* (log: $logf)"
    "$@" >"$logf" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        for ((i = 0; i < every; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "... $((SECONDS - start))s: $(tail -n 1 "$logf" | cut -c1-160)"
        fi
    done
    wait "$pid" && rc=0 || rc=$?
    if [ "$rc" -ne 0 ]; then
        log "FAILED (rc=$rc) after $((SECONDS - start))s; last lines of $logf:"
        tail -n 30 "$logf" >&2
        return "$rc"
    fi
    log "done in $((SECONDS - start))s"
}

ensure_engine() {
    "$LAB_DIR/bin/docker-engine"
}

# versions of the lab's own images (bump when their recipes change meaning)
LAB_HOST_VERSION=${LAB_HOST_VERSION:-0.1}
LAB_REGISTRY_VERSION=${LAB_REGISTRY_VERSION:-2.8.2}
