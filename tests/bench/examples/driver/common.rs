//! Set-up shared by the stages: the test DNS with the sender's records, the
//! DKIM-signed message, daemons in-process, Postfix containers, PostgreSQL.

use diesel::{Connection, RunQueryDsl};
use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};
use teaminbox_bench::{corpus, FORGED_DOMAIN, HELO, HOSTED, RECIPIENT, SELECTOR, SENDER_DOMAIN};
use teaminbox_e2e::{Postfix, PostfixOptions};
use teaminbox_store::address::ForwardingAddress;
use teaminbox_store::config::Config;
use teaminbox_store::{
    inbound::{Owner, Route},
    settings::NewChannel,
    Store,
};
use teaminbox_testkit::{
    daemon::RunningDaemon,
    dkim::{dkim_sign_headers, DkimKey},
    dns::TestDns,
};

/// The authserv-id of the daemons under test.
pub const AUTHSERV_ID: &str = "mx.inbox.example.com";

/// The sender's DNS and a DKIM-signed message.
pub struct Mail {
    pub dns: TestDns,
    pub key: DkimKey,
    /// The signed ~10 KB message, CRLF.
    pub signed: Vec<u8>,
}

impl Mail {
    /// A fresh RSA-2048 key for example.org and a DNS server on 127.0.0.1
    /// with: example.org SPF `ip4:127.0.0.1 -all`, DMARC `p=reject`, the
    /// DKIM key; example.net (the forger's domain) SPF `-all`, DMARC
    /// `p=reject`; the HELO name's SPF and address.
    pub fn new(size: usize) -> Mail {
        let key = DkimKey::generate(SENDER_DOMAIN, SELECTOR);
        let dns = TestDns::builder()
            .txt(SENDER_DOMAIN, "v=spf1 ip4:127.0.0.1 -all")
            .txt(&format!("_dmarc.{SENDER_DOMAIN}"), "v=DMARC1; p=reject")
            .txt(&key.record_name(), &key.dns_txt)
            .txt(FORGED_DOMAIN, "v=spf1 -all")
            .txt(&format!("_dmarc.{FORGED_DOMAIN}"), "v=DMARC1; p=reject")
            .txt(HELO, "v=spf1 ip4:127.0.0.1 -all")
            .a(HELO, Ipv4Addr::LOCALHOST)
            .start();
        // Not Message-ID, which the benchmark's Postfix adds to each copy.
        let signed = dkim_sign_headers(
            &corpus::smtp_message(size),
            &key,
            &["From", "To", "Subject", "Date"],
        );
        Mail { dns, key, signed }
    }

    /// `signed` with a word of its body changed: the DKIM signature no
    /// longer verifies.
    pub fn tampered(signed: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(signed);
        let (head, body) = text.split_once("\r\n\r\n").expect("header and body");
        let body = body.replacen("the", "THE", 1);
        assert!(
            body != text.split_once("\r\n\r\n").unwrap().1,
            "body changed"
        );
        format!("{head}\r\n\r\n{body}").into_bytes()
    }

    /// An unsigned message From the forger's domain (DMARC p=reject):
    /// refused when its envelope sender's domain is another one, since
    /// neither SPF nor DKIM then vouches for the From domain.
    pub fn forged() -> Vec<u8> {
        format!(
            "From: Mallory <ceo@{FORGED_DOMAIN}>\r\nTo: {RECIPIENT}\r\nSubject: Wire transfer\r\n\
             Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <forged@{FORGED_DOMAIN}>\r\n\r\nPay now.\r\n"
        )
        .into_bytes()
    }
}

/// The daemon's configuration for the benchmarks.
/// The daemon's configuration for a benchmark: its defaults but for the
/// socket, the database, the test DNS and no web listener; `workers` sets
/// the processor's workers (`None`: the default, as users run it).
pub fn daemon_config(socket: &Path, db_url: &str, dns: &str, workers: Option<usize>) -> Config {
    let processor = workers
        .map(|n| format!("[processor]\nworkers = {n}\n"))
        .unwrap_or_default();
    Config::from_toml(&format!(
        "[milter]\nlisten = \"unix:{}\"\nsocket_mode = \"0666\"\nhosted_domains = [\"{HOSTED}\"]\n\
         [database]\nurl = \"{db_url}\"\n[dns]\nnameservers = [\"{dns}\"]\n\
         [security]\nauthserv_id = \"{AUTHSERV_ID}\"\n{processor}\
         [outbound]\nworkers = 0\n[web]\nlisten = \"\"\n",
        socket.display()
    ))
    .expect("benchmark configuration")
}

/// Creates the channel for `address` (company Acme) unless it exists.
pub fn ensure_channel(store: &Store, address: &str, company: &str) -> i64 {
    let address = ForwardingAddress::parse(address).expect("hosted address");
    if let Ok(Some(Route {
        owner: Owner::Channel(id),
        ..
    })) = store.inbound().route(&address.to_string(), "")
    {
        return id;
    }
    store
        .settings()
        .create_channel(&NewChannel {
            name: "Support",
            company,
            forwarding_address: &address,
        })
        .expect("create channel")
        .id
}

/// Daemons run in-process, each on a thread of its own with the runtime
/// the binary builds (`teaminbox_testkit::daemon`).
#[derive(Default)]
pub struct InProcess {
    running: Vec<RunningDaemon>,
}

impl InProcess {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a daemon and waits for its socket.
    pub fn start(&mut self, config: Config) {
        self.running.push(RunningDaemon::start(config));
    }
}

pub fn wait_for_path(path: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} did not appear within {timeout:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Postfix's `discard:` for the hosted domain: without a milter that takes
/// the mail, Postfix queues and "delivers" it, and that is the baseline.
pub const DISCARD_HOSTED: &str = "transport_maps = inline:{ inbox.example.com=discard: }";

/// Postfix's in_flow_delay (default 1s) pauses smtpd before each message
/// while no delivery hands back a flow-control token. Mail that the milter
/// takes is discarded by Postfix, never delivered, so no token comes back
/// and a server that only receives hosted mail is slowed to a crawl. The
/// image turns it off, as the README advises a teaminbox MX to; case b′
/// puts Postfix's default back to show why.
pub const DEFAULT_IN_FLOW_DELAY: &str = "in_flow_delay = 1s";

/// Postfix's default flow control in main.cf, turned off for the public
/// smtpd alone, as the README advises: the delay is the cleanup service's
/// (it pauses before it takes a message from smtpd), so the public smtpd
/// gets a cleanup service of its own with `-o in_flow_delay=0`
/// (`cleanup_service_name`); local submissions keep the default.
pub fn no_flow_delay_on_public_smtpd(postfix: &Postfix) {
    let smtpd = format!("{}/inet", postfix.smtp_addr());
    let steps = [
        format!("postconf -M '{FLOW_CLEANUP}/unix={FLOW_CLEANUP} unix n - n - 0 cleanup'"),
        format!("postconf -P '{FLOW_CLEANUP}/unix/in_flow_delay=0'"),
        format!("postconf -P '{smtpd}/cleanup_service_name={FLOW_CLEANUP}'"),
        "postfix reload".into(),
    ];
    let out = postfix.exec(&["sh", "-c", &steps.join(" && ")]);
    assert!(
        out.status.success(),
        "{}: {}",
        steps.join(" && "),
        String::from_utf8_lossy(&out.stderr)
    );
    // Running smtpd processes keep their settings; new ones start after the
    // reload.
    std::thread::sleep(Duration::from_secs(2));
}

/// The cleanup service of the public smtpd in the README's master.cf.
pub const FLOW_CLEANUP: &str = "teaminbox-cleanup";

pub fn postfix(milter: Option<String>, shared: &Path, discard: bool, capture: bool) -> Postfix {
    postfix_with(milter, shared, discard, capture, &[])
}

pub fn postfix_with(
    milter: Option<String>,
    shared: &Path,
    discard: bool,
    capture: bool,
    extra: &[&str],
) -> Postfix {
    let mut lines: Vec<String> = extra.iter().map(|l| l.to_string()).collect();
    // For experiments: more main.cf lines, separated by ';'.
    if let Ok(more) = std::env::var("TEAMINBOX_TEST_BENCH_POSTFIX_EXTRA") {
        lines.extend(
            more.split(';')
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty()),
        );
    }
    if discard {
        lines.push(DISCARD_HOSTED.into());
    }
    // The benchmark's message has no Message-ID, so that each copy gets
    // its own from Postfix and is filed as a message of its own.
    lines.push("always_add_missing_headers = yes".into());
    Postfix::start(PostfixOptions {
        milter,
        socket_dir: Some(shared.to_owned()),
        hosted_domains: vec![HOSTED.into()],
        capture,
        extra_main_cf: lines,
        ..Default::default()
    })
}

/// Waits until Postfix's queue is empty (deliveries to `discard:` done).
pub fn drain(postfix: &Postfix) {
    assert!(
        postfix.wait_queue_empty(Duration::from_secs(300)),
        "Postfix queue of {} did not drain:\n{}",
        postfix.name(),
        postfix.queue()
    );
}

pub fn postfix_version(postfix: &Postfix) -> String {
    let out = postfix.exec(&["postconf", "-h", "mail_version"]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One text value from PostgreSQL.
pub fn pg_text(url: &str, sql: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let mut conn = diesel::pg::PgConnection::establish(url)
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    diesel::sql_query(sql)
        .get_result::<Row>(&mut conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .v
}

/// Checks PostgreSQL's durability settings: tests/bench/run restarts
/// the tests' throwaway cluster (which runs with fsync off) with the
/// durable defaults, so that every commit is on disk before the milter
/// answers, as with SQLite's `synchronous = FULL`.
pub fn assert_pg_durable(admin_url: &str) {
    let settings = pg_settings(admin_url);
    assert!(
        pg_is_durable(&settings),
        "PostgreSQL is not durable ({settings}): run through tests/bench/run, which restarts it with fsync on"
    );
}

/// PostgreSQL's settings that decide whether a commit is on disk.
pub fn pg_settings(admin_url: &str) -> String {
    pg_text(
        admin_url,
        "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) AS v FROM pg_settings \
         WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method')",
    )
}

pub fn pg_is_durable(settings: &str) -> bool {
    settings.contains("fsync=on") && settings.contains("synchronous_commit=on")
}

pub fn pg_version(admin_url: &str) -> String {
    pg_text(admin_url, "SELECT current_setting('server_version') AS v")
}

/// A relay from 127.0.0.1:53 (UDP and TCP) to the test DNS, for programs
/// that can only ask port 53 (OpenDMARC's libresolv and libspf2). Threads;
/// they end with the process.
pub fn dns_relay_on_53(target: SocketAddr) -> std::io::Result<()> {
    use std::{
        io::{Read, Write},
        net::{TcpListener, TcpStream, UdpSocket},
    };
    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 53))?;
    let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 53))?;
    std::thread::Builder::new()
        .name("dns-relay-udp".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let Ok((n, client)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                let query = buf[..n].to_vec();
                let reply_socket = match udp.try_clone() {
                    Ok(s) => s,
                    Err(_) => continue,
                };
                std::thread::spawn(move || {
                    let Ok(upstream) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else {
                        return;
                    };
                    let _ = upstream.set_read_timeout(Some(Duration::from_secs(3)));
                    if upstream.send_to(&query, target).is_err() {
                        return;
                    }
                    let mut answer = [0u8; 65_535];
                    if let Ok(n) = upstream.recv(&mut answer) {
                        let _ = reply_socket.send_to(&answer[..n], client);
                    }
                });
            }
        })?;
    std::thread::Builder::new()
        .name("dns-relay-tcp".into())
        .spawn(move || {
            for client in tcp.incoming().flatten() {
                std::thread::spawn(move || {
                    let Ok(upstream) = TcpStream::connect(target) else {
                        return;
                    };
                    let (Ok(mut c2), Ok(mut u2)) = (client.try_clone(), upstream.try_clone())
                    else {
                        return;
                    };
                    let up = std::thread::spawn(move || {
                        let mut buf = [0u8; 4096];
                        while let Ok(n) = c2.read(&mut buf) {
                            if n == 0 || u2.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = u2.shutdown(std::net::Shutdown::Write);
                    });
                    let (mut u, mut c) = (upstream, client);
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = u.read(&mut buf) {
                        if n == 0 || c.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c.shutdown(std::net::Shutdown::Both);
                    let _ = up.join();
                });
            }
        })?;
    Ok(())
}

/// `message` in LF line endings, as a file for smtp-source -F (which sends
/// each line with CRLF and dot-stuffs).
pub fn write_lf(path: &Path, message: &[u8]) {
    let lf: Vec<u8> = message
        .windows(2)
        .filter(|w| !(w[0] == b'\r' && w[1] == b'\n'))
        .map(|w| w[0])
        .chain(message.last().copied())
        .collect();
    std::fs::write(path, lf).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}
