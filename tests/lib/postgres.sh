# shellcheck shell=bash
# A throwaway PostgreSQL cluster for the tests.  Sourced by tests/run.
#
# Debian's own binaries, run as the postgres user (initdb refuses root), in a
# temporary directory, listening on 127.0.0.1 only on a free port, with
# trust authentication and a superuser "teaminbox".  Tests create their own
# databases through TEAMINBOX_TEST_POSTGRES_URL.  Durability is switched off:
# the cluster is deleted at exit anyway.

postgres_bin_dir() {
    local v
    v=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n1)
    [[ -n $v && -x /usr/lib/postgresql/$v/bin/initdb ]] || die "PostgreSQL server binaries not found (package postgresql)"
    printf '/usr/lib/postgresql/%s/bin\n' "$v"
}

# start_postgres: starts the cluster, exports TEAMINBOX_TEST_POSTGRES_URL.
start_postgres() {
    local bin dir port attempt
    bin=$(postgres_bin_dir)
    [[ $EUID -eq 0 ]] || die "starting the test PostgreSQL cluster needs root (to run initdb as postgres)"
    id postgres >/dev/null 2>&1 || die "no postgres user (package postgresql)"

    dir=$(mktemp -d /tmp/teaminbox-test-pg.XXXXXX)
    TEST_PG_DIR=$dir
    at_exit stop_postgres
    chown postgres:postgres "$dir"
    chmod 0700 "$dir"

    if ! runuser -u postgres -- "$bin/initdb" --pgdata="$dir/data" --username=teaminbox \
            --auth=trust --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        die "initdb failed"
    fi

    # The port is free when chosen but could be taken before the server
    # binds it: try a few.
    for attempt in 1 2 3; do
        port=$(free_port)
        if runuser -u postgres -- "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" \
                --wait --timeout=60 --silent \
                -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
                    -c max_connections=300 -c fsync=off -c synchronous_commit=off \
                    -c full_page_writes=off" \
                start >/dev/null 2>&1; then
            TEST_PG_BIN=$bin
            export TEAMINBOX_TEST_POSTGRES_URL="postgres://teaminbox@127.0.0.1:$port/postgres"
            say "PostgreSQL on 127.0.0.1:$port (data $dir/data)"
            return 0
        fi
        warn "PostgreSQL did not start on port $port (attempt $attempt)"
    done
    tail -n 30 "$dir/server.log" >&2 || true
    die "PostgreSQL did not start (log: $dir/server.log)"
}

stop_postgres() {
    [[ -n ${TEST_PG_DIR:-} ]] || return 0
    if [[ -n ${TEST_PG_BIN:-} ]]; then
        runuser -u postgres -- "$TEST_PG_BIN/pg_ctl" --pgdata="$TEST_PG_DIR/data" \
            --mode=immediate --wait --silent stop >/dev/null 2>&1 || true
    fi
    rm -rf "$TEST_PG_DIR"
}
