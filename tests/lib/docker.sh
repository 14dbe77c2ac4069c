# shellcheck shell=bash
# A Docker daemon for the Postfix and Sendmail containers.  Sourced by tests/run.
#
# Our machines (and CI) have no init system that starts docker.service, so
# unless a daemon already answers we start our own: no bridge, no iptables
# (containers use --network host and only 127.0.0.1), its own data root (the
# image cache, kept between runs) and its own socket, so it cannot disturb a
# system daemon.

TEST_DOCKER_SOCK=/run/teaminbox-test-docker.sock
TEST_DOCKER_DATA=/var/lib/teaminbox-test-docker
TEST_DOCKER_EXEC=/run/teaminbox-test-docker
TEST_DOCKER_LOG=/var/log/teaminbox-test-dockerd.log

# Prefer Debian's client (docker.io): it matches the daemon's API version.
# Another client earlier in PATH (e.g. /usr/local/bin/docker) works too, as
# the client negotiates the API version down, but the match is one less
# thing to go wrong.
pick_docker_client() {
    if [[ -x /usr/bin/docker ]]; then
        DOCKER=/usr/bin/docker
    else
        DOCKER=$(command -v docker) || die "no docker client found (package docker.io)"
    fi
    export DOCKER
    # Read by the Rust harness (tests/e2e), postfix/image/build and
    # sendmail/image/build.
    export TEAMINBOX_TEST_DOCKER=$DOCKER
}

# ensure_docker: makes `$DOCKER info` work, starting a daemon if needed.
ensure_docker() {
    pick_docker_client
    if "$DOCKER" info >/dev/null 2>&1; then
        say "using the running Docker daemon (${DOCKER_HOST:-default socket})"
        return 0
    fi
    # Ours, left from an earlier run that was killed?  Use it, and leave it.
    if [[ -S $TEST_DOCKER_SOCK ]] && DOCKER_HOST=unix://$TEST_DOCKER_SOCK "$DOCKER" info >/dev/null 2>&1; then
        export DOCKER_HOST=unix://$TEST_DOCKER_SOCK
        say "using the test Docker daemon left running at $TEST_DOCKER_SOCK"
        return 0
    fi
    command -v dockerd >/dev/null || die "dockerd not found (package docker.io)"
    [[ $EUID -eq 0 ]] || die "no Docker daemon answers, and starting one needs root"

    mkdir -p "$TEST_DOCKER_DATA" "$TEST_DOCKER_EXEC"
    # A stale pidfile from a killed daemon makes dockerd refuse to start.
    local pidfile=$TEST_DOCKER_EXEC/dockerd.pid
    if [[ -f $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        rm -f "$pidfile"
    fi
    rm -f "$TEST_DOCKER_SOCK"
    dockerd \
        --host "unix://$TEST_DOCKER_SOCK" \
        --data-root "$TEST_DOCKER_DATA" \
        --exec-root "$TEST_DOCKER_EXEC" \
        --pidfile "$pidfile" \
        --bridge none --iptables=false --ip6tables=false --ip-masq=false \
        --log-level warn \
        </dev/null >"$TEST_DOCKER_LOG" 2>&1 &
    TEST_DOCKERD_PID=$!
    at_exit stop_docker
    export DOCKER_HOST=unix://$TEST_DOCKER_SOCK

    local deadline=$((SECONDS + 60))
    until "$DOCKER" info >/dev/null 2>&1; do
        if ! kill -0 "$TEST_DOCKERD_PID" 2>/dev/null; then
            tail -n 30 "$TEST_DOCKER_LOG" >&2
            die "dockerd exited during startup (log: $TEST_DOCKER_LOG)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$TEST_DOCKER_LOG" >&2
            die "dockerd did not answer within 60 s (log: $TEST_DOCKER_LOG)"
        fi
        sleep 0.1
    done
    say "started dockerd (pid $TEST_DOCKERD_PID, socket $TEST_DOCKER_SOCK, log $TEST_DOCKER_LOG)"
}

stop_docker() {
    [[ -n ${TEST_DOCKERD_PID:-} ]] || return 0
    remove_stale_e2e_containers
    kill "$TEST_DOCKERD_PID" 2>/dev/null || return 0
    # dockerd stops its containerd and containers; give it time, then force.
    local _
    for _ in $(seq 150); do
        kill -0 "$TEST_DOCKERD_PID" 2>/dev/null || return 0
        sleep 0.1
    done
    warn "dockerd did not stop within 15 s; killing it"
    kill -9 "$TEST_DOCKERD_PID" 2>/dev/null || true
}

# Removes e2e containers (label teaminbox-e2e, set by tests/e2e) whose test
# process is gone: a test killed before its Drop ran leaves its container.
# Containers of still-running test processes are left alone.
remove_stale_e2e_containers() {
    local id pid
    for id in $("$DOCKER" ps -aq --filter label=teaminbox-e2e 2>/dev/null); do
        pid=$("$DOCKER" inspect -f '{{index .Config.Labels "teaminbox-e2e.pid"}}' "$id" 2>/dev/null || true)
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            continue
        fi
        "$DOCKER" rm -f -v "$id" >/dev/null 2>&1 || true
    done
}
