//! Stages 1 and 2, SMTP throughput and latency, through a real Postfix on 127.0.0.1:
//!
//! * a: Postfix alone (the hosted domain goes to `discard:`);
//! * b, c: teaminbox (in-process, release build) as users run it, the
//!   processor filing every message as it comes (its default workers), on
//!   SQLite and on PostgreSQL: the whole job, end to end;
//! * b₀, c₀: the same with processor workers 0 (receive only);
//! * d: Debian's OpenDKIM (verify) + OpenDMARC (SPF, DMARC, reject);
//! * b′, b″, a′: Postfix's flow control (one run each, after the others).
//!
//! Throughput: Postfix's own `smtp-source` inside the Postfix container
//! sends the DKIM-signed message file (`-F`) over N sessions, one message
//! per connection; runs alternate a b c b₀ c₀ d a b ... The file has no
//! Message-ID: Postfix adds a unique one to each message
//! (`always_add_missing_headers`), so that every message is a new
//! conversation to file, not a duplicate of the first.
//! Latency: our client, one session per case, times each message from the
//! final "." to the reply, the cases interleaved message by message.

use crate::common::{self, InProcess, Mail};
use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpStream},
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicI64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use teaminbox_bench::{stats, HELO, RECIPIENT, SENDER};
use teaminbox_e2e::Postfix;
use teaminbox_store::{views::ConversationQuery, Store};
use teaminbox_testkit::TestDatabase;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    A,
    /// End to end (the default configuration), SQLite.
    B,
    /// End to end, PostgreSQL.
    C,
    /// Receive only, SQLite.
    B0,
    /// Receive only, PostgreSQL.
    C0,
    D,
    /// b with Postfix's default in_flow_delay (one run, after the others).
    FlowDefault,
    /// b with Postfix's default in_flow_delay in main.cf, and a cleanup
    /// service with `-o in_flow_delay=0` for the public smtpd only.
    FlowScoped,
    /// a with Postfix's default in_flow_delay: mail Postfix delivers itself
    /// (to `discard:`) hands its flow-control token back.
    FlowBaseline,
}

impl Case {
    pub fn letter(self) -> &'static str {
        match self {
            Case::A => "a",
            Case::B => "b",
            Case::C => "c",
            Case::B0 => "b₀",
            Case::C0 => "c₀",
            Case::D => "d",
            Case::FlowDefault => "b′",
            Case::FlowScoped => "b″",
            Case::FlowBaseline => "a′",
        }
    }

    /// The case's name in TEAMINBOX_TEST_BENCH_CASES (ASCII).
    pub fn key(self) -> &'static str {
        match self {
            Case::B0 => "b0",
            Case::C0 => "c0",
            Case::FlowDefault => "b1",
            Case::FlowScoped => "b2",
            Case::FlowBaseline => "a1",
            other => other.letter(),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Case::A => "Postfix alone, no milter (hosted domain delivered to `discard:`)",
            Case::B => "**teaminbox as users run it, SQLite**: the milter (all checks, stored before 250; Postfix discards its copy) and the processor filing each message (default 2 workers), end to end",
            Case::C => "**the same on PostgreSQL** (durable: fsync on)",
            Case::B0 => "b receiving only (processor workers 0), SQLite",
            Case::C0 => "c receiving only (processor workers 0), PostgreSQL",
            Case::D => "OpenDKIM (verify) + OpenDMARC (SPF, DMARC, reject) milters (hosted domain delivered to `discard:`)",
            Case::FlowDefault => "b's daemon, Postfix with its default `in_flow_delay = 1s` (one run, after the alternation; not in the ratios)",
            Case::FlowScoped => "b's daemon, `in_flow_delay = 1s` in main.cf, but the public smtpd has a cleanup service of its own with `-o in_flow_delay=0` (master.cf, as the README advises; one run)",
            Case::FlowBaseline => "a with the default `in_flow_delay = 1s`: Postfix queues and delivers the mail itself, as it would if the milter accepted hosted mail for `discard:` by `transport_maps` (one run)",
        }
    }

    /// Whether the processor files the mail as it comes in.
    pub fn files(self) -> bool {
        matches!(
            self,
            Case::B | Case::C | Case::FlowDefault | Case::FlowScoped
        )
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
    /// Cases that file: the most messages stored and not yet filed at any
    /// sample during the run (every 100 ms), and the seconds from the end
    /// of the run until every message was filed.
    pub max_depth: Option<i64>,
    pub drain_seconds: Option<f64>,
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

    /// Cases that file: the deepest queue and the longest drain of any run.
    pub fn worst_backlog(&self, case: Case) -> Option<(i64, f64)> {
        let runs: Vec<&Run> = self.runs.iter().filter(|r| r.case == case).collect();
        let depth = runs.iter().filter_map(|r| r.max_depth).max()?;
        let drain = runs
            .iter()
            .filter_map(|r| r.drain_seconds)
            .fold(0.0, f64::max);
        Some((depth, drain))
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
    // For profiling some cases: TEAMINBOX_TEST_BENCH_CASES=a,b (see Case::key).
    let only: Option<Vec<String>> = std::env::var("TEAMINBOX_TEST_BENCH_CASES")
        .ok()
        .map(|v| v.split(',').map(|k| k.trim().to_string()).collect());
    let wanted = |case: Case| {
        only.as_ref()
            .is_none_or(|o| o.iter().any(|k| k == case.key()))
    };

    // The daemons under test: end to end (the processor's default workers)
    // and receive only, each on a database of its own.
    let databases = [
        (Case::B, TestDatabase::sqlite(), None),
        (Case::C, TestDatabase::postgres(), None),
        (Case::B0, TestDatabase::sqlite(), Some(0)),
        (Case::C0, TestDatabase::postgres(), Some(0)),
    ];
    let mut daemons = InProcess::new();
    let mut stores = Vec::new();
    for (case, db, workers) in &databases {
        let store = db.store();
        common::ensure_channel(&store, RECIPIENT, "Acme");
        let socket = shared.join(format!("{}.sock", case.key()));
        daemons.start(common::daemon_config(&socket, &db.url, &dns, *workers));
        stores.push((*case, store));
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
    let milter_of = |case: Case| {
        let socket = shared.join(format!("{}.sock", case.key()));
        Some(format!("unix:{}", socket.display()))
    };
    let store_of = |case: Case| {
        stores
            .iter()
            .find(|(c, _)| *c == case)
            .map(|(_, s)| s.clone())
    };
    let mut targets = Vec::new();
    if wanted(Case::A) {
        targets.push(Target::new(
            Case::A,
            common::postfix(None, shared, true, false),
            None,
            Vec::new(),
        ));
    }
    for case in [Case::B, Case::C, Case::B0, Case::C0] {
        if wanted(case) {
            targets.push(Target::new(
                case,
                common::postfix(milter_of(case), shared, false, false),
                store_of(case),
                Vec::new(),
            ));
        }
    }
    if let (Some(tp), true) = (&third_party, wanted(Case::D)) {
        targets.push(Target::new(
            Case::D,
            common::postfix(Some(tp.milters.clone()), shared, true, true),
            None,
            tp.pids(),
        ));
    }
    let postfix_version = targets
        .first()
        .map(|t| common::postfix_version(&t.postfix))
        .unwrap_or_default();

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
            report_run(
                &format!("round {} case {}", round + 1, t.case.letter()),
                &run,
            );
            runs.push(run);
            settle(t);
        }
    }
    // What Postfix's flow control does: one run each, after the others.
    let flow_experiments = [
        (Case::FlowDefault, milter_of(Case::B), false, false),
        (Case::FlowScoped, milter_of(Case::B), false, true),
        (Case::FlowBaseline, None, true, false),
    ];
    for (case, milter, discard, scoped) in flow_experiments {
        if !wanted(case) {
            continue;
        }
        let postfix = common::postfix_with(
            milter.clone(),
            shared,
            discard,
            false,
            &[common::DEFAULT_IN_FLOW_DELAY],
        );
        if scoped {
            common::no_flow_delay_on_public_smtpd(&postfix);
        }
        let store = milter.is_some().then(|| store_of(Case::B)).flatten();
        let t = Target::new(case, postfix, store, Vec::new());
        measure(&t, p.warmup, p.sessions, &file);
        settle(&t);
        let run = measure(&t, p.messages, p.sessions, &file);
        report_run(&format!("case {}", case.letter()), &run);
        runs.push(run);
        settle(&t);
    }

    eprintln!(
        "bench: latency, {} messages per case, interleaved",
        p.latency_messages
    );
    let latency = latency(&targets, mail, p.latency_messages);
    for t in &targets {
        settle(t);
    }

    let cases: Vec<Case> = [
        Case::A,
        Case::B,
        Case::C,
        Case::B0,
        Case::C0,
        Case::D,
        Case::FlowDefault,
        Case::FlowScoped,
        Case::FlowBaseline,
    ]
    .into_iter()
    .filter(|c| runs.iter().any(|r| r.case == *c))
    .collect();
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

fn report_run(what: &str, run: &Run) {
    let backlog = match (run.max_depth, run.drain_seconds) {
        (Some(depth), Some(drain)) => format!(", queue at most {depth}, filed {drain:.2} s after"),
        _ => String::new(),
    };
    eprintln!(
        "bench: throughput {what}: {:.1} msg/s, CPUs {:.0}% busy{backlog}",
        run.rate,
        run.busy * 100.0
    );
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
/// how busy the machine's CPUs were meanwhile, who used the CPU. For a case
/// that files, the run ends when the last message is filed: its CPU counts
/// until then, and the queue's depth is sampled meanwhile.
fn measure(t: &Target, n: usize, sessions: usize, file: &Path) -> Run {
    let before = t.store.as_ref().map(received);
    let cpu = CpuSnapshot::take(t);
    let sampler = t
        .case
        .files()
        .then(|| DepthSampler::start(t.store.clone().expect("store")));
    let script = format!(
        "s=$(date +%s%N); smtp-source -s {sessions} -m {n} -F {} -f {SENDER} -t {RECIPIENT} -M {HELO} \
         {}; rc=$?; e=$(date +%s%N); echo \"$rc $((e - s))\"",
        file.display(),
        t.postfix.smtp_addr()
    );
    let out = t.postfix.exec(&["sh", "-c", &script]);
    let sent = Instant::now();
    let drain_seconds = sampler.as_ref().map(|_| {
        wait_filed(t.store.as_ref().expect("store"), t.case);
        sent.elapsed().as_secs_f64()
    });
    let max_depth = sampler.map(DepthSampler::stop);
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
        let after = received(store);
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
        max_depth,
        drain_seconds,
    }
}

/// Every message the daemon has stored, filed or not.
fn received(store: &Store) -> i64 {
    let c = store.inbound().counts().expect("queue counts");
    c.pending + c.processing + c.done + c.failed
}

/// Stored and not yet filed.
fn unfiled(store: &Store) -> i64 {
    let c = store.inbound().counts().expect("queue counts");
    assert_eq!(c.failed, 0, "the processor parked messages as failed");
    c.pending + c.processing
}

/// Waits until the processor has filed everything stored.
fn wait_filed(store: &Store, case: Case) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while unfiled(store) > 0 {
        assert!(
            Instant::now() < deadline,
            "case {}: the processor did not file the queue within 300 s",
            case.letter()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Samples the queue's depth every 100 ms on a thread of its own.
struct DepthSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicI64>,
    thread: std::thread::JoinHandle<()>,
}

impl DepthSampler {
    fn start(store: Store) -> DepthSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicI64::new(0));
        let (stop2, max2) = (stop.clone(), max.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                max2.fetch_max(unfiled(&store), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        DepthSampler { stop, max, thread }
    }

    fn stop(self) -> i64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("depth sampler");
        self.max.load(Ordering::Relaxed)
    }
}

/// Lets the case finish its background work before the next run: Postfix
/// delivers what it queued (a, d).
fn settle(t: &Target) {
    if !t.case.files() && t.store.is_none() {
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
        if t.case.files() {
            lines.push(sanity_check_filing(t, store, mail));
        }
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
    if t.store.is_none() {
        common::drain(&t.postfix);
    }
    lines
}

/// The same file sent twice is filed as two new conversations of its
/// author: Postfix gave each its own Message-ID, so neither is a duplicate.
fn sanity_check_filing(t: &Target, store: &Store, mail: &Mail) -> String {
    let again =
        teaminbox_e2e::send_message(t.postfix.smtp_addr(), SENDER, &[RECIPIENT], &mail.signed);
    assert!(
        again.accepted(),
        "case {}: second message:\n{again}",
        t.case.letter()
    );
    wait_filed(store, t.case);
    let newest = store
        .views()
        .conversations(&ConversationQuery {
            limit: Some(2),
            ..Default::default()
        })
        .expect("conversations");
    let filed: Vec<(&str, i64)> = newest
        .iter()
        .map(|c| (c.contact_address.as_str(), c.message_count))
        .collect();
    assert_eq!(
        filed,
        [(SENDER, 1), (SENDER, 1)],
        "case {}: two sends must be two conversations of one message each",
        t.case.letter()
    );
    format!(
        "{}: the same file sent twice is filed as conversations {} and {} of {SENDER}, one message each (Postfix adds a Message-ID to each)",
        t.case.letter(),
        newest[1].id,
        newest[0].id
    )
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
