//! Stages 1 and 2, SMTP throughput and latency, through a real Postfix on 127.0.0.1:
//!
//! * a: Postfix alone (the hosted domain goes to `discard:`);
//! * b: teaminbox (in-process, release build), SQLite;
//! * c: teaminbox, PostgreSQL;
//! * d: Debian's OpenDKIM (verify) + OpenDMARC (SPF, DMARC, reject).
//!
//! Throughput: Postfix's own `smtp-source` inside the Postfix container
//! sends the DKIM-signed message file (`-F`) over N sessions, one message
//! per connection; runs alternate a b c d a b c d ...
//! Latency: our client, one session per case, times each message from the
//! final "." to the reply, the cases interleaved message by message.

use crate::common::{self, InProcess, Mail};
use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    time::{Duration, Instant},
};
use teaminbox_bench::{stats, HELO, RECIPIENT, SENDER};
use teaminbox_e2e::Postfix;
use teaminbox_store::Store;
use teaminbox_testkit::TestDatabase;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    A,
    B,
    C,
    D,
    /// b with Postfix's default in_flow_delay (one run, after the others).
    BFlow,
}

impl Case {
    pub fn letter(self) -> &'static str {
        match self {
            Case::A => "a",
            Case::B => "b",
            Case::C => "c",
            Case::D => "d",
            Case::BFlow => "b′",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Case::A => "Postfix alone, no milter (hosted domain delivered to `discard:`)",
            Case::B => "teaminbox milter, all checks, SQLite (stored before 250; Postfix discards its copy)",
            Case::C => "teaminbox milter, all checks, PostgreSQL (durable: fsync on)",
            Case::D => "OpenDKIM (verify) + OpenDMARC (SPF, DMARC, reject) milters (hosted domain delivered to `discard:`)",
            Case::BFlow => "b's daemon again, but Postfix with its default `in_flow_delay = 1s` (one run, after the alternation; not in the ratios)",
        }
    }
}

pub struct Params {
    pub messages: usize,
    pub sessions: usize,
    pub runs: usize,
    pub warmup: usize,
    pub latency_messages: usize,
}

pub struct Results {
    pub params: String,
    pub smtp_source_command: String,
    /// Every timed run, in the order run.
    pub runs: Vec<Run>,
    pub cases: Vec<Case>,
    /// Why case d did not run, if it did not.
    pub d_missing: Option<String>,
    /// (case, DATA-to-reply times in ms).
    pub latency: Vec<(Case, Vec<f64>)>,
    pub latency_messages: usize,
    pub checks: Vec<String>,
    pub postfix_version: String,
    pub third_party_versions: String,
    pub message_size: usize,
    pub load_before: (f64, f64, f64),
    pub load_after: (f64, f64, f64),
    pub seconds: f64,
}

/// One timed smtp-source run.
#[derive(Clone, Debug)]
pub struct Run {
    pub case: Case,
    /// Messages per second.
    pub rate: f64,
    /// How busy both CPUs were, 0..=1.
    pub busy: f64,
    /// CPU milliseconds per message: the Postfix container (smtpd,
    /// cleanup, qmgr, delivery, and smtp-source, which runs in it), this
    /// process (the in-process teaminbox daemons; for d the DNS relay),
    /// OpenDKIM + OpenDMARC, PostgreSQL, and the whole machine.
    pub cpu_postfix: f64,
    pub cpu_driver: f64,
    pub cpu_filters: f64,
    pub cpu_postgres: f64,
    pub cpu_machine: f64,
}

impl Results {
    fn of(&self, case: Case, f: impl Fn(&Run) -> f64) -> Vec<f64> {
        self.runs.iter().filter(|r| r.case == case).map(f).collect()
    }

    pub fn rates(&self, case: Case) -> Vec<f64> {
        self.of(case, |r| r.rate)
    }

    pub fn busy(&self, case: Case) -> Vec<f64> {
        self.of(case, |r| r.busy)
    }

    /// Medians of the CPU split (see [`Run`]).
    pub fn cpu(&self, case: Case) -> [f64; 5] {
        [
            stats::median(&self.of(case, |r| r.cpu_postfix)),
            stats::median(&self.of(case, |r| r.cpu_driver)),
            stats::median(&self.of(case, |r| r.cpu_filters)),
            stats::median(&self.of(case, |r| r.cpu_postgres)),
            stats::median(&self.of(case, |r| r.cpu_machine)),
        ]
    }

    pub fn median_rate(&self, case: Case) -> f64 {
        stats::median(&self.rates(case))
    }

    pub fn latencies(&self, case: Case) -> Option<&[f64]> {
        self.latency
            .iter()
            .find(|(c, _)| *c == case)
            .map(|(_, v)| v.as_slice())
    }
}

struct Target {
    case: Case,
    postfix: Postfix,
    /// The Postfix container's full id (its cgroup's CPU time).
    container: String,
    /// The daemon's store (b and c), to count what was stored.
    store: Option<Store>,
    /// OpenDKIM's and OpenDMARC's pids (d).
    filters: Vec<u32>,
}

impl Target {
    fn new(case: Case, postfix: Postfix, store: Option<Store>, filters: Vec<u32>) -> Target {
        let out = std::process::Command::new(
            std::env::var_os("TEAMINBOX_TEST_DOCKER").unwrap_or_else(|| "docker".into()),
        )
        .args(["inspect", "-f", "{{.Id}}", postfix.name()])
        .output()
        .expect("docker inspect");
        Target {
            case,
            container: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            postfix,
            store,
            filters,
        }
    }
}

pub fn run(p: &Params, work: &Path, shared: &Path, mail: &Mail, pg_admin: &str) -> Results {
    let started = Instant::now();
    let load_before = teaminbox_bench::system::load_average();
    common::assert_pg_durable(pg_admin);
    let dns = mail.dns.nameserver();
    let mut checks = Vec::new();

    // The daemons under test.
    let sqlite = TestDatabase::sqlite();
    let postgres = TestDatabase::postgres();
    let mut daemons = InProcess::new();
    let mut stores = Vec::new();
    for (db, name) in [(&sqlite, "b"), (&postgres, "c")] {
        let store = db.store();
        common::ensure_channel(&store, RECIPIENT, "Acme");
        let socket = shared.join(format!("{name}.sock"));
        daemons.start(common::daemon_config(&socket, &db.url, &dns, 0));
        stores.push(store);
    }

    // The comparison's filters; their absence is reported, not fatal.
    let third_party = common::dns_relay_on_53(mail.dns.addr())
        .map_err(|e| {
            format!(
                "cannot listen on 127.0.0.1:53 ({e}); OpenDMARC can only ask port 53 \
                 (libresolv, libspf2), and the relay to the test DNS needs that port"
            )
        })
        .and_then(|()| crate::third_party::start(work, shared));
    let (d_missing, third_party) = match third_party {
        Ok(tp) => (None, Some(tp)),
        Err(why) => {
            eprintln!("bench: case d skipped: {why}");
            (Some(why), None)
        }
    };

    eprintln!("bench: starting Postfix containers");
    let mut targets = vec![Target::new(
        Case::A,
        common::postfix(None, shared, true, false),
        None,
        Vec::new(),
    )];
    for (case, store) in [Case::B, Case::C].into_iter().zip(stores) {
        let socket = shared.join(format!("{}.sock", case.letter()));
        targets.push(Target::new(
            case,
            common::postfix(
                Some(format!("unix:{}", socket.display())),
                shared,
                false,
                false,
            ),
            Some(store),
            Vec::new(),
        ));
    }
    if let Some(tp) = &third_party {
        targets.push(Target::new(
            Case::D,
            common::postfix(Some(tp.milters.clone()), shared, true, true),
            None,
            tp.pids(),
        ));
    }
    let postfix_version = common::postfix_version(&targets[0].postfix);
    // For profiling one case: TEAMINBOX_TEST_BENCH_CASES=b (letters; "f" for b′).
    let only = std::env::var("TEAMINBOX_TEST_BENCH_CASES").unwrap_or_else(|_| "abcdf".into());
    targets.retain(|t| only.contains(t.case.letter()));

    // Every case does what it says before it is timed.
    for t in &targets {
        checks.extend(sanity_check(t, mail));
    }

    let file = shared.join("signed-10k.eml");
    common::write_lf(&file, &mail.signed);
    let command = |n: usize| {
        format!(
            "smtp-source -s {} -m {n} -F {} -f {SENDER} -t {RECIPIENT} -M {HELO} 127.0.0.1:PORT",
            p.sessions,
            file.display()
        )
    };

    eprintln!("bench: warm-up, {} messages per case", p.warmup);
    for t in &targets {
        measure(t, p.warmup, p.sessions, &file);
        settle(t);
    }
    let mut runs = Vec::new();
    for round in 0..p.runs {
        for t in &targets {
            let run = measure(t, p.messages, p.sessions, &file);
            eprintln!(
                "bench: throughput round {} case {}: {:.1} msg/s, CPUs {:.0}% busy",
                round + 1,
                t.case.letter(),
                run.rate,
                run.busy * 100.0
            );
            runs.push(run);
            settle(t);
        }
    }
    // What Postfix's default flow control does to b (see DEFAULT_IN_FLOW_DELAY).
    if let Some(b) = targets
        .iter()
        .find(|t| t.case == Case::B && only.contains('f'))
    {
        let socket = shared.join("b.sock");
        let t = Target::new(
            Case::BFlow,
            common::postfix_with(
                Some(format!("unix:{}", socket.display())),
                shared,
                false,
                false,
                &[common::DEFAULT_IN_FLOW_DELAY],
            ),
            b.store.clone(),
            Vec::new(),
        );
        measure(&t, p.warmup, p.sessions, &file);
        settle(&t);
        let run = measure(&t, p.messages, p.sessions, &file);
        eprintln!(
            "bench: throughput case b′ (in_flow_delay 1s): {:.1} msg/s, CPUs {:.0}% busy",
            run.rate,
            run.busy * 100.0
        );
        runs.push(run);
    }

    eprintln!(
        "bench: latency, {} messages per case, interleaved",
        p.latency_messages
    );
    let latency = latency(&targets, mail, p.latency_messages);
    for t in &targets {
        settle(t);
    }

    let mut cases: Vec<Case> = targets.iter().map(|t| t.case).collect();
    if runs.iter().any(|r| r.case == Case::BFlow) {
        cases.push(Case::BFlow);
    }
    let third_party_versions = third_party
        .as_ref()
        .map(|tp| tp.versions.clone())
        .unwrap_or_default();
    drop(targets);
    drop(third_party);
    drop(daemons);
    Results {
        params: format!(
            "{} messages of {} bytes per run over {} sessions (one message per connection), {} runs per case, alternating; warm-up {} messages per case first",
            p.messages,
            mail.signed.len(),
            p.sessions,
            p.runs,
            p.warmup
        ),
        smtp_source_command: command(p.messages),
        runs,
        cases,
        d_missing,
        latency,
        latency_messages: p.latency_messages,
        checks,
        postfix_version,
        third_party_versions,
        message_size: mail.signed.len(),
        load_before,
        load_after: teaminbox_bench::system::load_average(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// CPU counters, for the split of a run's CPU time.
struct CpuSnapshot {
    machine: (u64, u64),
    postfix_ns: u64,
    driver: u64,
    filters: u64,
    postgres: u64,
}

impl CpuSnapshot {
    fn take(t: &Target) -> CpuSnapshot {
        use teaminbox_bench::system as sys;
        CpuSnapshot {
            machine: sys::cpu_times(),
            postfix_ns: sys::container_cpu_ns(&t.container).unwrap_or(0),
            driver: sys::process_cpu_ticks(std::process::id()),
            filters: t
                .filters
                .iter()
                .map(|pid| sys::process_cpu_ticks(*pid))
                .sum(),
            postgres: sys::comm_cpu_ticks("postgres"),
        }
    }
}

/// One timed smtp-source run inside the container: messages per second,
/// how busy the machine's CPUs were meanwhile, who used the CPU.
fn measure(t: &Target, n: usize, sessions: usize, file: &Path) -> Run {
    let before = t.store.as_ref().map(pending);
    let cpu = CpuSnapshot::take(t);
    let script = format!(
        "s=$(date +%s%N); smtp-source -s {sessions} -m {n} -F {} -f {SENDER} -t {RECIPIENT} -M {HELO} \
         {}; rc=$?; e=$(date +%s%N); echo \"$rc $((e - s))\"",
        file.display(),
        t.postfix.smtp_addr()
    );
    let out = t.postfix.exec(&["sh", "-c", &script]);
    let cpu_after = CpuSnapshot::take(t);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or("");
    let mut fields = last.split_whitespace();
    let rc: i32 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(-1);
    let ns: f64 = fields
        .next()
        .and_then(|f| f.parse().ok())
        .unwrap_or(f64::NAN);
    assert!(
        rc == 0,
        "smtp-source failed on case {} (exit {rc}): {}\n{}",
        t.case.letter(),
        String::from_utf8_lossy(&out.stderr),
        stdout
    );
    if let (Some(store), Some(before)) = (&t.store, before) {
        let after = pending(store);
        assert_eq!(
            after - before,
            n as i64,
            "case {}: {n} messages sent, {} stored",
            t.case.letter(),
            after - before
        );
    }
    let ms =
        |ticks: u64| ticks as f64 / teaminbox_bench::system::TICKS_PER_SECOND * 1000.0 / n as f64;
    Run {
        case: t.case,
        rate: n as f64 / (ns / 1e9),
        busy: teaminbox_bench::system::busy_between(cpu.machine, cpu_after.machine),
        cpu_postfix: cpu_after.postfix_ns.saturating_sub(cpu.postfix_ns) as f64 / 1e6 / n as f64,
        cpu_driver: ms(cpu_after.driver.saturating_sub(cpu.driver)),
        cpu_filters: ms(cpu_after.filters.saturating_sub(cpu.filters)),
        cpu_postgres: ms(cpu_after.postgres.saturating_sub(cpu.postgres)),
        cpu_machine: ms(cpu_after.machine.0.saturating_sub(cpu.machine.0)),
    }
}

fn pending(store: &Store) -> i64 {
    store.inbound().counts().expect("queue counts").pending
}

/// Lets the case finish its background work before the next run: Postfix
/// delivers what it queued (a, d).
fn settle(t: &Target) {
    if matches!(t.case, Case::A | Case::D) {
        common::drain(&t.postfix);
    }
    std::thread::sleep(Duration::from_millis(500));
}

/// Checks that the case does its job: the signed message is accepted (and
/// for teaminbox stored with spf, dkim and dmarc pass), the forged one is
/// refused (not for a, which checks nothing).
fn sanity_check(t: &Target, mail: &Mail) -> Vec<String> {
    let mut lines = Vec::new();
    let addr = t.postfix.smtp_addr();
    let good = teaminbox_e2e::send_message(addr, SENDER, &[RECIPIENT], &mail.signed);
    assert!(
        good.accepted(),
        "case {}: signed message not accepted:\n{good}",
        t.case.letter()
    );
    if let Some(store) = &t.store {
        let row = store.inbound().list(1).expect("list")[0].clone();
        let verdicts = (
            row.spf.as_deref(),
            row.dkim.as_deref(),
            row.dmarc.as_deref(),
        );
        assert_eq!(
            verdicts,
            (Some("pass"), Some("pass"), Some("pass")),
            "case {}: verdicts of the signed message",
            t.case.letter()
        );
        lines.push(format!(
            "{}: signed message 250 and stored with spf=pass dkim=pass dmarc=pass",
            t.case.letter()
        ));
    } else if t.case == Case::D {
        // To an outside address the message is relayed to smtp-sink with
        // the filters' headers, which show what they checked.
        let outside =
            teaminbox_e2e::send_message(addr, SENDER, &["check@outside.example"], &mail.signed);
        assert!(outside.accepted(), "case d: relay check:\n{outside}");
        let captured = t.postfix.wait_captured(1, Duration::from_secs(30));
        let text = String::from_utf8_lossy(&captured[0])
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let want = [
            format!("{}; dkim=pass", crate::third_party::OPENDKIM_ID),
            format!("{}; spf=pass", crate::third_party::OPENDMARC_ID),
            format!("{}; dmarc=pass", crate::third_party::OPENDMARC_ID),
        ];
        for w in &want {
            assert!(
                text.contains(w.as_str()),
                "case d: no \"{w}\" in the relayed message:\n{text}"
            );
        }
        lines.push(format!(
            "d: signed message 250, relayed copy carries: {}",
            want.join(", ")
        ));
    } else {
        lines.push("a: signed message 250 (no checks)".into());
    }
    if t.case != Case::A {
        for (what, from, message) in [
            (
                "unsigned, From example.net (p=reject), envelope from example.org (SPF pass, not aligned)",
                format!("bounce@{}", teaminbox_bench::SENDER_DOMAIN),
                Mail::forged(),
            ),
            (
                "the signed message with its body altered (DKIM fails), envelope from example.net (not aligned)",
                format!("bounce@{}", teaminbox_bench::FORGED_DOMAIN),
                Mail::tampered(&mail.signed),
            ),
        ] {
            let refused = teaminbox_e2e::send_message(addr, &from, &[RECIPIENT], &message);
            let outcome = refused.outcome();
            assert_eq!(
                outcome.code / 100,
                5,
                "case {}: must be refused: {what}:\n{refused}",
                t.case.letter()
            );
            lines.push(format!(
                "{}: {what}: refused, {} {}",
                t.case.letter(),
                outcome.code,
                outcome.text.lines().next().unwrap_or("")
            ));
        }
    }
    if matches!(t.case, Case::A | Case::D) {
        common::drain(&t.postfix);
    }
    lines
}

/// A client that times each message from the final "." to the reply.
struct TimedClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl TimedClient {
    fn connect(addr: SocketAddr) -> TimedClient {
        let stream = TcpStream::connect(addr).expect("connect to Postfix");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut c = TimedClient {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        };
        c.expect(220);
        c.command(&format!("EHLO {HELO}"), 250);
        c
    }

    fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read reply");
            assert!(n > 0, "connection closed");
            text.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] == b' ' {
                return (line[..3].parse().unwrap_or(0), text);
            }
        }
    }

    fn expect(&mut self, code: u16) {
        let (got, text) = self.reply();
        assert_eq!(got, code, "unexpected reply: {text}");
    }

    fn command(&mut self, line: &str, code: u16) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .expect("write");
        self.expect(code);
    }

    /// One message; the milliseconds from the final "." to the 250.
    fn send(&mut self, stuffed: &[u8]) -> f64 {
        self.command(&format!("MAIL FROM:<{SENDER}>"), 250);
        self.command(&format!("RCPT TO:<{RECIPIENT}>"), 250);
        self.command("DATA", 354);
        self.writer.write_all(stuffed).expect("write message");
        let start = Instant::now();
        self.writer.write_all(b".\r\n").expect("write dot");
        let (code, text) = self.reply();
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(code, 250, "message not accepted: {text}");
        ms
    }
}

/// CRLF message, dot-stuffed, ending with CRLF (without the final ".").
fn dot_stuffed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn latency(targets: &[Target], mail: &Mail, n: usize) -> Vec<(Case, Vec<f64>)> {
    let stuffed = dot_stuffed(&mail.signed);
    let mut clients: Vec<TimedClient> = targets
        .iter()
        .map(|t| TimedClient::connect(t.postfix.smtp_addr()))
        .collect();
    // Warm: processes, connections, DNS cache.
    for _ in 0..20 {
        for c in &mut clients {
            c.send(&stuffed);
        }
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(n); clients.len()];
    for _ in 0..n {
        for (c, s) in clients.iter_mut().zip(&mut samples) {
            s.push(c.send(&stuffed));
        }
    }
    for mut c in clients {
        c.command("QUIT", 221);
    }
    targets.iter().map(|t| t.case).zip(samples).collect()
}
