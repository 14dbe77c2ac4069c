# shellcheck shell=bash
# Debian packages the test suite needs on the host.  Sourced by tests/run.
#
# Postfix and Sendmail are NOT installed on the host: they run in the
# containers built by postfix/image/build and sendmail/image/build.

# shellcheck disable=SC2034 # used by tests/run
TEST_PACKAGES=(
    docker.io       # dockerd + client: the Postfix and Sendmail containers
    debootstrap     # builds the Postfix and Sendmail images from the Debian mirror
    postgresql      # throwaway PostgreSQL cluster (initdb, pg_ctl)
    swaks           # a third-party SMTP client for the e2e tests
    python3         # free_port and small test helpers
    python3-dkim    # independent DKIM/ARC signing and verification in tests
    python3-nacl    # ... including ed25519 keys
    python3-authres # dkimpy's ARC sealing needs it
    python3-dnspython # dkimpy's verification against the test DNS server
    bind9-dnsutils  # dig: a second, third-party DNS client for the test server
    chromium        # the real browser of the web inbox tests (headless, tests/e2e)
    chromium-driver # chromedriver: the tests drive chromium over WebDriver
    rspamd          # the content spam filter the spam tests run (ports of their own)
    redis-server    # rspamd's Bayes store in those tests (one per test, its own port)
    openssl         # DKIM test keys
    opendkim-tools  # opendkim-genkey / opendkim-testmsg
    gcc             # C parts of Rust dependencies (bundled SQLite, libpq)
    libc6-dev
    make
    pkg-config
    libssl-dev      # openssl-sys, for the bundled libpq's TLS
    man-db          # man -l: the generated man pages render without warnings
    zsh             # zsh -n: the generated zsh completions parse
)

# ensure_packages PKG...: installs the packages that are not installed yet;
# runs 'apt-get update' once, and only if something is missing.  Dies with a
# clear message on failure: a missing tool must never make tests skip.
ensure_packages() {
    local pkg missing=()
    for pkg in "$@"; do
        if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) != "install ok installed" ]]; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    [[ $EUID -eq 0 ]] || die "missing Debian packages (${missing[*]}); run tests/run as root or install them"
    say "installing Debian packages: ${missing[*]}"
    # Wait for a concurrent apt/dpkg run instead of failing on its lock.
    local apt=(apt-get -q -y -o DPkg::Lock::Timeout=600)
    local log
    log=$(mktemp /tmp/teaminbox-test-apt.XXXXXX)
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "apt-get update failed (full log: $log)"
    fi
    # --no-install-recommends: only what is listed above, quickly.
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends \
            "${missing[@]}" </dev/null >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "apt-get install ${missing[*]} failed (full log: $log)"
    fi
    rm -f "$log"
}
