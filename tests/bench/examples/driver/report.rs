//! BENCHMARKS.md.

use crate::{memory, processor, smtp, smtp::Case, web, Args};
use std::{fmt::Write as _, path::Path};
use teaminbox_bench::{stats, system};

pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub memory: u64,
    pub kernel: String,
    pub load: (f64, f64, f64),
    pub rustc: String,
    pub commit: String,
    pub date: String,
}

impl Machine {
    pub fn collect() -> Machine {
        let repo = crate::common::repo();
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(args)
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default()
        };
        let mut commit = git(&["rev-parse", "--short=12", "HEAD"]);
        let status = |paths: &[&str]| {
            let mut args = vec!["status", "--porcelain", "--"];
            args.extend_from_slice(paths);
            git(&args)
        };
        if !status(&["milter", "admin", "migrations"]).is_empty() {
            commit.push_str(
                " with uncommitted changes to the daemon's code (milter/, admin/ or migrations/)",
            );
        } else if !status(&["."]).is_empty() {
            commit.push_str(" (milter/, admin/ and migrations/ as committed; other files changed)");
        }
        Machine {
            nproc: system::nproc(),
            cpu: system::cpu_model(),
            memory: system::memory_bytes(),
            kernel: system::kernel(),
            load: system::load_average(),
            rustc: system::command_line("rustc", &["--version"])
                .unwrap_or_else(|| "unknown".into()),
            commit,
            date: system::command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
        }
    }
}

pub struct CriterionResult {
    pub id: String,
    pub median_ns: f64,
    pub low_ns: f64,
    pub high_ns: f64,
}

/// Every benchmark Criterion has results for under `dir`.
pub fn criterion_results(dir: &Path) -> Vec<CriterionResult> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "new") {
                    if let Some(r) = read_criterion(&path) {
                        out.push(r);
                    }
                } else if path
                    .file_name()
                    .is_some_and(|n| n != "base" && n != "change" && n != "report")
                {
                    stack.push(path);
                }
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn read_criterion(new: &Path) -> Option<CriterionResult> {
    let bench: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(new.join("benchmark.json")).ok()?).ok()?;
    let est: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(new.join("estimates.json")).ok()?).ok()?;
    let median = &est["median"];
    Some(CriterionResult {
        id: bench["full_id"].as_str()?.to_string(),
        median_ns: median["point_estimate"].as_f64()?,
        low_ns: median["confidence_interval"]["lower_bound"].as_f64()?,
        high_ns: median["confidence_interval"]["upper_bound"].as_f64()?,
    })
}

pub struct Inputs<'a> {
    pub args: &'a Args,
    pub machine: Machine,
    pub postgres_version: Option<String>,
    /// Its durability settings at the end of the run.
    pub postgres_settings: Option<String>,
    pub smtp: Option<&'a smtp::Results>,
    pub memory: Option<&'a memory::Results>,
    pub processor: Option<&'a processor::Results>,
    pub web: Option<&'a web::Results>,
    pub criterion: Vec<CriterionResult>,
    pub seconds: f64,
}

/// 1000000 as "1,000,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn duration(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn load(l: (f64, f64, f64)) -> String {
    format!("{:.2} / {:.2} / {:.2}", l.0, l.1, l.2)
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

pub fn render(i: &Inputs<'_>) -> String {
    let m = &i.machine;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Benchmarks\n\nMeasured by `tests/bench/run` (which writes this file; do not edit it by hand) \
         on {}. Everything ran on one machine over 127.0.0.1 and UNIX sockets. \
         How to run it: README, section Benchmarks.\n",
        m.date
    );
    let postfix_version = i
        .smtp
        .map(|r| r.postfix_version.clone())
        .unwrap_or_default();
    let _ = writeln!(s, "## Machine and versions\n\n| | |\n|---|---|");
    let _ = writeln!(
        s,
        "| machine | {} CPUs (nproc), {}, {:.1} GiB memory, Linux {} |",
        m.nproc,
        m.cpu,
        m.memory as f64 / (1u64 << 30) as f64,
        m.kernel
    );
    let _ = writeln!(
        s,
        "| load average (1/5/15 min) | at start {}; per stage below (the benchmark's own processes raise it while it runs) |",
        load(m.load)
    );
    let _ = writeln!(s, "| rustc | {} (release profile) |", m.rustc);
    if !postfix_version.is_empty() {
        let _ = writeln!(
            s,
            "| Postfix | {postfix_version} (Debian bookworm, in Docker with the host's network; image from postfix/image/build) |"
        );
    }
    if let Some(v) = &i.postgres_version {
        let settings = i.postgres_settings.as_deref().unwrap_or("");
        let how = if crate::common::pg_is_durable(settings) {
            "made durable for the benchmark"
        } else {
            "not durable, as the tests run it (not through tests/bench/run)"
        };
        let _ = writeln!(
            s,
            "| PostgreSQL | {v} (tests/lib/postgres.sh's throwaway cluster; {how}: {settings}) |"
        );
    }
    if let Some(r) = i.smtp {
        if !r.third_party_versions.is_empty() {
            let _ = writeln!(
                s,
                "| OpenDKIM, OpenDMARC | {} (Debian 12 packages) |",
                r.third_party_versions
            );
        }
    }
    let _ = writeln!(s, "| SQLite | bundled with libsqlite3-sys; WAL, `synchronous = FULL` (the daemon's settings) |");
    let _ = writeln!(s, "| teaminbox | commit {} |", m.commit);
    let _ = writeln!(s, "| command | `{}` |", i.args.command);
    let _ = writeln!(
        s,
        "| total time | {:.0} s (without the build) |\n",
        i.seconds
    );

    if let Some(r) = i.smtp {
        headline(&mut s, r);
    }
    targets(&mut s, i);
    if let Some(r) = i.smtp {
        throughput(&mut s, r);
        latency(&mut s, r);
    }
    if let Some(r) = i.processor {
        processor(&mut s, r);
    }
    if let Some(r) = i.memory {
        memory(&mut s, r);
    }
    criterion(&mut s, &i.criterion);
    if let Some(r) = i.web {
        web_inbox(&mut s, r);
    }
    let analysis = crate::common::repo().join("tests/bench/analysis.md");
    if let Ok(text) = std::fs::read_to_string(&analysis) {
        let _ = writeln!(s, "{}", text.trim_end());
    }
    s
}

/// The SMTP stage's medians as users run teaminbox first, receive only
/// second.
fn headline(s: &mut String, r: &smtp::Results) {
    let a = r.median_rate(Case::A);
    let _ = writeln!(
        s,
        "## Headline\n\nMessages per second through Postfix on this 2-core machine, 10 KB \
         DKIM-signed messages over 10 sessions, medians of one alternating run (section 1):\n\n\
         | | msg/s | of Postfix alone |\n|---|---|---|"
    );
    for (case, what) in [
        (Case::B, "**teaminbox end to end, default configuration, SQLite** (received, checked, stored before 250, filed)"),
        (Case::C, "**teaminbox end to end, default configuration, PostgreSQL**"),
        (Case::B0, "teaminbox receiving only (processor off), SQLite"),
        (Case::C0, "teaminbox receiving only (processor off), PostgreSQL"),
        (Case::A, "Postfix alone"),
    ] {
        let rate = r.median_rate(case);
        if rate.is_finite() {
            let _ = writeln!(s, "| {what} | {rate:.0} | {:.2} |", rate / a);
        }
    }
    s.push('\n');
}

/// A case that files keeps up when its queue is empty this soon after the
/// last message was answered.
const KEEP_UP_SECONDS: f64 = 1.0;

/// The processor's CPU per filed message before issue 18's work, measured
/// by this driver's processor stage (empty inbox, disk, 20,000 messages,
/// 2 workers) on the same machine, idle.
const PROCESSOR_CPU_BEFORE_MS: f64 = 0.95;
const PROCESSOR_CPU_BEFORE_AT: &str = "commit dd3e54d";

fn targets(s: &mut String, i: &Inputs<'_>) {
    let _ = writeln!(
        s,
        "## Targets (2 cores)\n\n| target | measured | |\n|---|---|---|"
    );
    let smtp = i.smtp;
    let _ = writeln!(
        s,
        "| an otherwise idle machine: 1-minute load average < {} when the driver starts (it waits up to 5 minutes) | {:.2} | {} |",
        system::IDLE_LOAD,
        i.machine.load.0,
        verdict(Some(i.machine.load.0 < system::IDLE_LOAD))
    );
    let median = |case| smtp.map(|r| r.median_rate(case)).filter(|v| v.is_finite());
    let a = median(Case::A);
    let ratio = |x: Option<f64>, y: Option<f64>| x.zip(y).map(|(x, y)| x / y);
    for (case, goal, what) in [
        (
            Case::B,
            0.85,
            "end to end, default configuration, SQLite (b/a)",
        ),
        (
            Case::C,
            0.80,
            "end to end, default configuration, PostgreSQL (c/a)",
        ),
    ] {
        let r = ratio(median(case), a);
        let backlog = smtp.and_then(|r| r.worst_backlog(case));
        let _ = writeln!(
            s,
            "| {what} ≥ {goal:.2} of Postfix alone, every message filed within {KEEP_UP_SECONDS:.0} s of the run's end | {} | {} |",
            match (r, backlog) {
                (Some(r), Some((depth, drain))) => format!(
                    "{r:.2}; queue at most {depth} messages, all filed {drain:.2} s after the end (worst run)"
                ),
                _ => "–".into(),
            },
            verdict(r.zip(backlog).map(|(r, (_, drain))| r >= goal && drain <= KEEP_UP_SECONDS))
        );
    }
    let b0a = ratio(median(Case::B0), a);
    let _ = writeln!(
        s,
        "| receive only, SQLite (b₀/a) ≥ 0.95 | {} | {} |",
        b0a.map_or("–".into(), |v| format!("{v:.2}")),
        verdict(b0a.map(|v| v >= 0.95))
    );
    let bd = ratio(median(Case::B), median(Case::D));
    let _ = writeln!(
        s,
        "| throughput b/d ≥ 1 (teaminbox end to end vs OpenDKIM + OpenDMARC) | {} | {} |",
        bd.map_or_else(
            || smtp
                .and_then(|r| r.d_missing.clone())
                .map_or("–".into(), |why| format!("d did not run: {why}")),
            |v| format!("{v:.2}")
        ),
        verdict(bd.map(|v| v >= 1.0))
    );
    let scoped = ratio(median(Case::FlowScoped), median(Case::B));
    let _ = writeln!(
        s,
        "| Postfix flow control: `in_flow_delay=0` for the public smtpd's cleanup service alone (b″, the README's master.cf) keeps b's rate (≥ 0.95 of b) | {} | {} |",
        scoped.map_or("–".into(), |v| format!(
            "b″/b = {v:.2} (b′/b = {:.2} with Postfix's default everywhere)",
            ratio(median(Case::FlowDefault), median(Case::B)).unwrap_or(f64::NAN)
        )),
        verdict(scoped.map(|v| v >= 0.95))
    );
    let p50 = |case| {
        smtp.and_then(|r| r.latencies(case))
            .map(|v| stats::percentile(v, 50.0))
    };
    let added = p50(Case::B).zip(p50(Case::A)).map(|(b, a)| b - a);
    // (b: as users run it; the processor files beside the milter.)
    let _ = writeln!(
        s,
        "| added latency p50 ≤ 1.5 ms (signed 10 KB message, warm DNS cache) | {} | {} |",
        added.map_or("–".into(), |v| format!("{v:.2} ms")),
        verdict(added.map(|v| v <= 1.5))
    );
    let proc_rate = |bg: bool| {
        i.processor.and_then(|r| {
            r.variants
                .iter()
                .find(|v| !v.tmpfs && (v.background > 0) == bg)
                .map(|v| (v.rate, v.background))
        })
    };
    let empty = proc_rate(false);
    let _ = writeln!(
        s,
        "| processor ≥ 1,000 msg/s on SQLite | {} | {} |",
        empty.map_or("–".into(), |(r, _)| format!("{r:.0} msg/s")),
        verdict(empty.map(|(r, _)| r >= 1000.0))
    );
    let large = proc_rate(true);
    let within = empty.zip(large).map(|((e, _), (l, _))| l / e);
    let _ = writeln!(
        s,
        "| processor with 1,000,000 conversations within 20% of that | {} | {} |",
        large.map_or("–".into(), |(r, bg)| format!(
            "{r:.0} msg/s with {} conversations ({:.0}% of the empty inbox's rate)",
            thousands(bg),
            within.unwrap_or(f64::NAN) * 100.0
        )),
        verdict(within.map(|w| w >= 0.8))
    );
    let cpu = i.processor.and_then(|r| {
        r.variants
            .iter()
            .find(|v| !v.tmpfs && v.background == 0)
            .map(|v| v.cpu_ms)
    });
    let _ = writeln!(
        s,
        "| processor CPU per filed message at most half of {PROCESSOR_CPU_BEFORE_MS:.2} ms ({PROCESSOR_CPU_BEFORE_AT}) | {} | {} |",
        cpu.map_or("–".into(), |c| format!(
            "{c:.2} ms ({:.0}% of it)",
            c / PROCESSOR_CPU_BEFORE_MS * 100.0
        )),
        verdict(cpu.map(|c| c <= PROCESSOR_CPU_BEFORE_MS / 2.0))
    );
    let peak = |workers: usize, many: bool| {
        i.memory.and_then(|r| {
            r.measurements
                .iter()
                .find(|m| m.workers == workers && m.what.contains("at once") == many)
                .map(|m| m.peak_rss)
        })
    };
    let one = peak(0, false);
    let _ = writeln!(
        s,
        "| peak RSS ≤ 100 MiB receiving one 30 MiB message | {} | {} |",
        one.map_or("–".into(), |p| format!("{:.1} MiB", mib(p))),
        verdict(one.map(|p| mib(p) <= 100.0))
    );
    let many = peak(0, true);
    let _ = writeln!(
        s,
        "| peak RSS ≤ 200 MiB receiving 50 × 1 MiB at once | {} | {} |",
        many.map_or("–".into(), |p| format!("{:.1} MiB", mib(p))),
        verdict(many.map(|p| mib(p) <= 200.0))
    );
    for db in i.web.map_or(&[][..], |r| &r.databases[..]) {
        for (what, search) in [
            ("list pages and the 50-message conversation", false),
            ("search", true),
        ] {
            let (worst, p95) = db
                .pages
                .iter()
                .filter(|p| p.label.starts_with("search") == search)
                .map(|p| (p.label, stats::percentile(&p.ms, 95.0)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or(("–", f64::NAN));
            let _ = writeln!(
                s,
                "| web {what} p95 < {:.0} ms with {} conversations, {} | slowest p95: {p95:.1} ms ({worst}) | {} |",
                web::TARGET_P95_MS,
                thousands(i.web.map_or(0, |r| r.conversations)),
                db.name,
                verdict(Some(p95 < web::TARGET_P95_MS))
            );
        }
    }
    s.push('\n');
}

fn throughput(s: &mut String, r: &smtp::Results) {
    let _ = writeln!(
        s,
        "## 1. SMTP throughput\n\n{}. Postfix's own `smtp-source` runs inside the Postfix container \
         (`docker exec`) and sends a fixed DKIM-signed file (`-F`), so every case gets the same \
         bytes; the file has no Message-ID, and every Postfix adds a unique one to each copy \
         (`always_add_missing_headers = yes`), so that each message is a new conversation to \
         file:\n\n```\n{}\n```\n\nThe in-process daemons run in their default configuration \
         but for outbound workers 0 and no web listener: in b and c the processor (2 workers) \
         files each message while the milter receives the next, and a run ends when smtp-source \
         has its last reply; b₀ and c₀ are the same daemons with processor workers 0 (receive \
         only). The timing is smtp-source's wall time, measured inside the container; \"CPUs \
         busy\" is the whole machine (both cores, /proc/stat) during the run. For b and c, the \
         queue's depth (stored, not yet filed) is sampled every 100 ms, and the run's CPU is \
         counted until the last message is filed. Every Postfix except b′, b″ and a′ runs with \
         `in_flow_delay = 0`: see those and the analysis. The DNS is the tests' server on \
         127.0.0.1, which answers like a real one (60 s TTLs, NXDOMAIN and NODATA with the SOA); \
         the daemons cache as in production. Load average (1/5/15 min) before/after: {} → {}. \
         Stages 1 and 2 together took {:.0} s.\n",
        r.params,
        r.smtp_source_command,
        load(r.load_before),
        load(r.load_after),
        r.seconds
    );
    let _ = writeln!(
        s,
        "| case | what | runs (msg/s, in order) | median msg/s | CPUs busy (median) | queue at most / all filed after (worst run) |\n|---|---|---|---|---|---|"
    );
    for case in &r.cases {
        let rates = r.rates(*case);
        let _ = writeln!(
            s,
            "| {} | {} | {} | **{:.1}** | {:.0}% | {} |",
            case.letter(),
            case.describe(),
            rates
                .iter()
                .map(|v| format!("{v:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
            stats::median(&rates),
            stats::median(&r.busy(*case)) * 100.0,
            r.worst_backlog(*case)
                .map_or("–".into(), |(depth, drain)| format!(
                    "{depth} / {drain:.2} s"
                ))
        );
    }
    if let Some(why) = &r.d_missing {
        let _ = writeln!(
            s,
            "| d | OpenDKIM + OpenDMARC | not run: {why} | – | – | – |"
        );
    }
    let _ = writeln!(
        s,
        "\nWhere the CPU went, in CPU milliseconds per message (medians over the runs; both cores \
         count, so 1 ms per message at 1,000 msg/s is one core busy). \"Postfix\" is the container's \
         cgroup: smtpd, cleanup, qmgr, delivery, postlogd and smtp-source, which runs in it. \
         \"teaminbox\" is the driver process, in which the daemons of b, c, b₀ and c₀ run, milter \
         and processor (for d it is the DNS relay); the processor's share is b − b₀ (c − c₀), the \
         same milter work being in both. \"other\" is the rest of the machine (dockerd handling \
         the containers' logs, the kernel's work for them, ...).\n"
    );
    let _ = writeln!(
        s,
        "| case | Postfix + smtp-source | teaminbox | OpenDKIM + OpenDMARC | PostgreSQL | other | whole machine |\n|---|---|---|---|---|---|---|"
    );
    for case in &r.cases {
        let [postfix, driver, filters, pg, machine] = r.cpu(*case);
        let other = machine - postfix - driver - filters - pg;
        let _ = writeln!(
            s,
            "| {} | {postfix:.2} | {driver:.2} | {filters:.2} | {pg:.2} | {other:.2} | {machine:.2} |",
            case.letter()
        );
    }
    let split = |whole: Case, receive: Case| {
        let (w, r0) = (r.cpu(whole), r.cpu(receive));
        (r0[1], w[1] - r0[1], w[3] - r0[3])
    };
    let mut shares = Vec::new();
    for (whole, receive, db) in [
        (Case::B, Case::B0, "SQLite"),
        (Case::C, Case::C0, "PostgreSQL"),
    ] {
        let (milter, processor, pg) = split(whole, receive);
        if processor.is_finite() {
            shares.push(format!(
                "{db}: milter {milter:.2} ms, processor {processor:.2} ms{}",
                if whole == Case::C {
                    format!(" (and {pg:.2} ms more of PostgreSQL's)")
                } else {
                    String::new()
                }
            ));
        }
    }
    if !shares.is_empty() {
        let _ = writeln!(
            s,
            "\nteaminbox's CPU per message, split: {}.",
            shares.join("; ")
        );
    }
    let a = r.median_rate(Case::A);
    let mut ratios = Vec::new();
    for (x, y, name) in [
        (Case::B, Case::A, "b/a"),
        (Case::C, Case::A, "c/a"),
        (Case::B0, Case::A, "b₀/a"),
        (Case::C0, Case::A, "c₀/a"),
        (Case::B, Case::D, "b/d"),
    ] {
        let v = r.median_rate(x) / r.median_rate(y);
        if v.is_finite() {
            ratios.push(format!("{name} = **{v:.2}**"));
        }
    }
    let mut flow = Vec::new();
    for (case, base, name) in [
        (Case::FlowDefault, Case::B, "b′/b"),
        (Case::FlowScoped, Case::B, "b″/b"),
        (Case::FlowBaseline, Case::A, "a′/a"),
    ] {
        let v = r.median_rate(case) / r.median_rate(base);
        if v.is_finite() {
            flow.push(format!("{name} = {v:.2}"));
        }
    }
    let _ = writeln!(
        s,
        "\nRatios of the medians, all from this one alternating run: {}. (a's median: {a:.1} msg/s.){}\n",
        ratios.join(", "),
        if flow.is_empty() {
            String::new()
        } else {
            format!(" Flow control (one run each): {}.", flow.join(", "))
        }
    );
    if r.cases.contains(&Case::D) {
        let _ = writeln!(
            s,
            "About d: OpenDMARC's SPF check (libspf2) passes every client on a loopback address \
             without looking anything up, so in d SPF costs nothing, while teaminbox evaluates \
             example.org's SPF record for 127.0.0.1 as for any client (from its DNS cache). \
             OpenDMARC keeps no DNS cache of its own: its DMARC lookups go to the test DNS \
             (through the relay on 127.0.0.1:53) for every message, as they would go to a local \
             caching resolver; OpenDKIM caches (libunbound).\n"
        );
    }
    let _ = writeln!(s, "Checks before timing (each case does its job):\n");
    for c in &r.checks {
        let _ = writeln!(s, "- {c}");
    }
    let _ = writeln!(s);
    scale(s, r);
}

fn latency(s: &mut String, r: &smtp::Results) {
    let _ = writeln!(
        s,
        "## 2. Latency\n\nTime from sending the final `.` to reading the reply, per message, {} messages per \
         case, one SMTP session per case, the cases interleaved message by message (after 20 warm-up \
         messages each, so connections and the DNS cache are warm); the same DKIM-signed {}-byte \
         message as above; our client (std TcpStream, TCP_NODELAY) straight to Postfix.\n",
        r.latency_messages, r.message_size
    );
    let _ = writeln!(
        s,
        "| case | p50 ms | p95 ms | mean ms | added p50 vs a | added p95 vs a |\n|---|---|---|---|---|---|"
    );
    let base = r
        .latencies(Case::A)
        .map(|v| (stats::percentile(v, 50.0), stats::percentile(v, 95.0)));
    for (case, v) in &r.latency {
        let p50 = stats::percentile(v, 50.0);
        let p95 = stats::percentile(v, 95.0);
        let (d50, d95) = match (case, base) {
            (Case::A, _) | (_, None) => ("–".to_string(), "–".to_string()),
            (_, Some((a50, a95))) => (
                format!("{:+.2} ms", p50 - a50),
                format!("{:+.2} ms", p95 - a95),
            ),
        };
        let _ = writeln!(
            s,
            "| {} | {p50:.2} | {p95:.2} | {:.2} | {d50} | {d95} |",
            case.letter(),
            stats::mean(v)
        );
    }
    let _ = writeln!(s);
}

fn processor(s: &mut String, r: &processor::Results) {
    let _ = writeln!(
        s,
        "## 3. Processor\n\n{} queued messages ({:.0} MB of raw mail) written through \
         `store.inbound().enqueue(...)`, then {} worker threads call `Processor::process_next` until \
         the queue is empty (the daemon's default is 2 workers). Three channels: round robin over a \
         team of five, contact owner, no assignment; tickets on. Writing the queue took {:.1} s \
         (on tmpfs: set-up, not measured); the stage took {:.0} s. The mix:\n",
        r.messages,
        r.corpus_bytes as f64 / 1e6,
        r.workers,
        r.enqueue_seconds,
        r.seconds
    );
    let _ = writeln!(s, "| kind | messages |\n|---|---|");
    for (kind, n) in &r.mix {
        let _ = writeln!(s, "| {} | {n} |", kind.describe());
    }
    let _ = writeln!(
        s,
        "\nThe \"large inbox\" variant first stores, with SQL in one transaction, N old conversations, \
         each with its done queue row (a small raw message), its message and its ticket, over \
         min(N/5, 200,000) contacts that include the corpus's senders; 3% of the queue are replies \
         to those old conversations.\n"
    );
    let _ = writeln!(
        s,
        "| variant | conversations before | database | msg/s | CPU ms per message | time | msg/s by 5,000 as the queue drains | what was filed |\n|---|---|---|---|---|---|---|---|"
    );
    for v in &r.variants {
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} MB, built in {:.0} s | **{:.0}** | **{:.2}** | {:.1} s | {} | {} |",
            v.name,
            thousands(v.background),
            v.db_bytes as f64 / 1e6,
            v.build_seconds,
            v.rate,
            v.cpu_ms,
            v.seconds,
            v.windows
                .iter()
                .map(|w| format!("{w:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            v.filed
        );
    }
    let _ = writeln!(s);
}

fn memory(s: &mut String, r: &memory::Results) {
    let _ = writeln!(
        s,
        "## 4. Memory\n\nThe release `teaminbox-milter` binary as its own process (SQLite, all checks \
         on, DKIM-signed messages with a base64 attachment), fed through Postfix; a fresh daemon for \
         each line, so VmHWM (from /proc/PID/status) is that line's peak. With workers 2 the \
         measurement waits until the processor has filed the messages too. The stage took {:.0} s.\n",
        r.seconds
    );
    let _ = writeln!(
        s,
        "| received | processor workers | RSS at start | peak RSS (VmHWM) | RSS after | time |\n|---|---|---|---|---|---|"
    );
    for m in &r.measurements {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} MiB | **{:.1} MiB** | {:.1} MiB | {:.1} s |",
            m.what,
            m.workers,
            mib(m.idle_rss),
            mib(m.peak_rss),
            mib(m.after_rss),
            m.seconds
        );
    }
    let _ = writeln!(s);
}

fn criterion(s: &mut String, results: &[CriterionResult]) {
    let _ = writeln!(
        s,
        "## 5. Micro-benchmarks (Criterion)\n\n`cargo bench -p teaminbox-bench --bench micro` \
         (tests/bench/benches/micro.rs); median and its 95% confidence interval.\n"
    );
    if results.is_empty() {
        let _ = writeln!(s, "No Criterion results found.\n");
        return;
    }
    let _ = writeln!(s, "| benchmark | median | 95% CI |\n|---|---|---|");
    for r in results {
        let _ = writeln!(
            s,
            "| {} | **{}** | {} – {} |",
            r.id,
            duration(r.median_ns),
            duration(r.low_ns),
            duration(r.high_ns)
        );
    }
    let _ = writeln!(s);
}

fn web_inbox(s: &mut String, r: &web::Results) {
    let _ = writeln!(
        s,
        "## 6. Web inbox\n\nServer time of the web inbox's pages with {} conversations stored \
         (`tests/bench/examples/driver/web.rs`): {} contacts, three channels, five users; a tenth \
         of the conversations open, a fiftieth spam, the rest closed; open and closed ones \
         assigned by turns to one of the five users or to nobody; activity spread over a year, \
         not in id order; one message and one ticket each, a 600-byte attachment on every tenth \
         message; and one open conversation of 50 messages (about 1.2 KB of text each, every \
         fifth with a 2 KB HTML body). Written with SQL in one transaction (set-up, not \
         measured); PostgreSQL then gets `VACUUM ANALYZE` (what autovacuum does soon after a \
         load), SQLite nothing (the daemon never runs ANALYZE).\n\n\
         Each request goes through the web crate's real router (`teaminbox_web::router`, \
         tower's `oneshot`, no socket) with a signed-in session's cookie, one at a time; its time \
         runs from the call until the whole body is read: the session lookup, the store's \
         queries (the list's filter counts included), the rendering. Each page's response is \
         checked once (status 200 and its content), then the pages are requested by turns, \
         {} turns of warm-up and {} measured (fewer for a page whose measured requests took \
         over 30 s in all, but at least 20). Target: p95 under {:.0} ms. Load average \
         (1/5/15 min) before/after: {} → {}. The stage took {:.0} s.\n",
        thousands(r.conversations),
        thousands(r.contacts),
        r.warmup,
        r.requests,
        web::TARGET_P95_MS,
        load(r.load_before),
        load(r.load_after),
        r.seconds
    );
    for db in &r.databases {
        let _ = writeln!(
            s,
            "{}: built in {:.0} s, {:.0} MB.\n\n| page | URL | requests | median ms | p95 ms | bytes | |\n|---|---|---|---|---|---|---|",
            db.name,
            db.build_seconds,
            db.db_bytes as f64 / 1e6
        );
        for p in &db.pages {
            let p95 = stats::percentile(&p.ms, 95.0);
            let _ = writeln!(
                s,
                "| {} | `{}` | {} | {:.2} | **{p95:.2}** | {} | {} |",
                p.label,
                p.url,
                p.ms.len(),
                stats::median(&p.ms),
                p.bytes,
                verdict(Some(p95 < web::TARGET_P95_MS))
            );
        }
        s.push('\n');
    }
}

/// Cores of the machine the scale projection is for.
const PROJECTED_CORES: f64 = 8.0;

/// What one MX of [`PROJECTED_CORES`] cores with one shared PostgreSQL
/// would take, from case c's measured CPU per message.
fn scale(s: &mut String, r: &smtp::Results) {
    let (c, c0) = (r.cpu(Case::C), r.cpu(Case::C0));
    let [postfix, teaminbox, _, pg, machine] = c;
    let processor = teaminbox - c0[1];
    if !(machine.is_finite() && processor.is_finite()) {
        return;
    }
    // Everything on the MX: the machine's CPU but PostgreSQL's.
    let mx = machine - pg;
    let per_day = |rate: f64| format!("{:.0} million", rate * 86_400.0 / 1e6);
    let mx_rate = PROJECTED_CORES * 1000.0 / mx;
    let pg_rate = PROJECTED_CORES * 1000.0 / pg;
    let workers = 2.0;
    let processor_rate = workers * 1000.0 / processor;
    let mut limits = [
        (mx_rate, "the MX's CPU (Postfix and the milter above all)"),
        (pg_rate, "PostgreSQL's CPU, on a host of as many cores"),
        (
            processor_rate,
            "the processor's 2 default workers (one core each at most)",
        ),
    ];
    limits.sort_by(|a, b| a.0.total_cmp(&b.0));
    let _ = writeln!(
        s,
        "### Scale: one MX of {PROJECTED_CORES:.0} cores, one shared PostgreSQL (a projection)\n\n\
         From case c's CPU per message on this machine (medians above): Postfix with smtp-source \
         {postfix:.2} ms, teaminbox {teaminbox:.2} ms of which the processor {processor:.2} ms, \
         PostgreSQL {pg:.2} ms, the whole MX (everything but PostgreSQL, the test's client and \
         logging included) {mx:.2} ms. Assumptions: the same 10 KB DKIM-signed message from a \
         sender whose DNS records are cached, every message a new conversation; CPU time per \
         message stays the same on more cores (Postfix runs a process per session, the milter \
         and the processor are multi-threaded, PostgreSQL a backend per connection); the disk \
         keeps up with the commits (the milter's durable commits share WAL flushes by group \
         commit on both databases); no rspamd (its CPU is its own, on the MX or not).\n"
    );
    let _ = writeln!(
        s,
        "| what saturates | at msg/s | per day at saturation | per day at 60% busy |\n|---|---|---|---|"
    );
    for (rate, what) in &limits {
        let _ = writeln!(
            s,
            "| {what} | {rate:.0} | {} | {} |",
            per_day(*rate),
            per_day(rate * 0.6)
        );
    }
    let _ = writeln!(
        s,
        "\nFirst to saturate: **{}**, at about {:.0} msg/s ({} messages a day). \
         With more than 2 processor workers (`[processor] workers`), the processor scales with \
         cores until the database's write lock or PostgreSQL's CPU limits it; a PostgreSQL host \
         needs about {:.1} cores for one MX running flat out.\n",
        limits[0].1,
        limits[0].0,
        per_day(limits[0].0),
        mx_rate * pg / 1000.0
    );
}
