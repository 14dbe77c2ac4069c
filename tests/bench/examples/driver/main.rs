//! The benchmark driver of `tests/bench/run`: SMTP throughput and latency
//! through a real Postfix, the processor, the daemon's memory, the web
//! inbox's server time, and the report (BENCHMARKS.md). Everything talks to 127.0.0.1 only.
//!
//! Run it through `tests/bench/run`, which installs the packages, starts
//! Docker and PostgreSQL, builds the release binaries and the Postfix image,
//! runs the Criterion micro-benchmarks and exports what this program reads:
//!
//!   TEAMINBOX_TEST_POSTFIX_IMAGE, TEAMINBOX_TEST_DOCKER, DOCKER_HOST,
//!   TEAMINBOX_TEST_POSTGRES_URL   as for the end-to-end tests
//!
//! `driver --help` lists the options.

mod common;
mod memory;
mod processor;
mod report;
mod smtp;
mod third_party;
mod web;

use std::{path::PathBuf, time::Instant};

const USAGE: &str = "\
usage: driver [OPTIONS]

Runs the benchmarks and writes the report. Normally started by tests/bench/run.

  --out FILE            report to write (default BENCHMARKS.md)
  --only LIST           stages to run, comma separated: smtp, memory, processor,
                        web (default all four)
  --milter-bin FILE     release teaminbox-milter for the memory stage
                        (default target/release/teaminbox-milter)
  --criterion DIR       Criterion's output to include (default target/criterion)
  --command TEXT        the command line to name in the report
  --runs N              throughput runs per case (default 5)
  --messages N          messages per throughput run (default 2000)
  --sessions N          SMTP sessions at once (default 10)
  --size BYTES          message size before signing (default 10240)
  --warmup N            warm-up messages per case (default 200)
  --latency N           messages per case for latency (default 500)
  --processor N         queued messages for the processor (default 20000)
  --background N        conversations already stored (default 1000000; 0: skip)
  --workers N           processor workers (default 2, the daemon's default)
  --no-tmpfs            skip the processor's tmpfs (no fsync) diagnosis run
  --concurrent N        concurrent 1 MiB messages for memory (default 50)
  --web N               conversations stored for the web stage (default 1000000)
  --web-requests N      measured requests per page and database (default 100)

For experiments (environment; the daemon ignores TEAMINBOX_TEST_*):
  TEAMINBOX_TEST_BENCH_CASES=ab         throughput and latency for these cases
                                        only (letters a b c d; f for b′)
  TEAMINBOX_TEST_BENCH_POSTFIX_EXTRA='x = 1; y = 2'
                                        more main.cf lines for every Postfix
";

pub struct Args {
    pub out: PathBuf,
    pub only: Vec<String>,
    pub milter_bin: PathBuf,
    pub criterion: PathBuf,
    pub command: String,
    pub runs: usize,
    pub messages: usize,
    pub sessions: usize,
    pub size: usize,
    pub warmup: usize,
    pub latency: usize,
    pub processor: usize,
    pub background: u64,
    pub workers: usize,
    pub tmpfs: bool,
    pub concurrent: usize,
    pub web: u64,
    pub web_requests: usize,
}

fn parse_args() -> Args {
    let repo = common::repo();
    let mut a = Args {
        out: PathBuf::from("BENCHMARKS.md"),
        only: vec![
            "smtp".into(),
            "memory".into(),
            "processor".into(),
            "web".into(),
        ],
        milter_bin: repo.join("target/release/teaminbox-milter"),
        criterion: repo.join("target/criterion"),
        command: std::env::var("TEAMINBOX_TEST_BENCH_COMMAND")
            .unwrap_or_else(|_| "tests/bench/run".into()),
        runs: 5,
        messages: 2000,
        sessions: 10,
        size: 10_240,
        warmup: 200,
        latency: 500,
        processor: 20_000,
        background: 1_000_000,
        workers: 2,
        tmpfs: true,
        concurrent: 50,
        web: 1_000_000,
        web_requests: 100,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("driver: {arg} needs a value\n{USAGE}");
                std::process::exit(2)
            })
        };
        let number = |v: String| -> u64 {
            v.replace('_', "").parse().unwrap_or_else(|_| {
                eprintln!("driver: not a number: {v}");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--out" => a.out = value().into(),
            "--only" => a.only = value().split(',').map(|s| s.trim().to_string()).collect(),
            "--milter-bin" => a.milter_bin = value().into(),
            "--criterion" => a.criterion = value().into(),
            "--command" => a.command = value(),
            "--runs" => a.runs = number(value()) as usize,
            "--messages" => a.messages = number(value()) as usize,
            "--sessions" => a.sessions = number(value()) as usize,
            "--size" => a.size = number(value()) as usize,
            "--warmup" => a.warmup = number(value()) as usize,
            "--latency" => a.latency = number(value()) as usize,
            "--processor" => a.processor = number(value()) as usize,
            "--background" => a.background = number(value()),
            "--workers" => a.workers = number(value()) as usize,
            "--no-tmpfs" => a.tmpfs = false,
            "--concurrent" => a.concurrent = number(value()) as usize,
            "--web" => a.web = number(value()),
            "--web-requests" => a.web_requests = number(value()) as usize,
            // `cargo bench` style flags some callers add: ignore.
            "--bench" => {}
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0)
            }
            other => {
                eprintln!("driver: unknown argument {other}\n{USAGE}");
                std::process::exit(2)
            }
        }
    }
    for stage in &a.only {
        if !["smtp", "memory", "processor", "web"].contains(&stage.as_str()) {
            eprintln!("driver: unknown stage {stage}\n{USAGE}");
            std::process::exit(2)
        }
    }
    a
}

fn main() {
    let args = parse_args();
    // The goals are for an otherwise idle machine: let the build and the
    // micro-benchmarks' load die down first (the report says if it did not).
    teaminbox_bench::system::wait_until_idle(std::time::Duration::from_secs(300));
    let started = Instant::now();
    let machine = report::Machine::collect();
    // The in-process daemons and the processor log as the real daemon
    // does, to a file instead of stderr.
    // Kept if the run fails (logs of the daemons and filters are in it);
    // removed at the end of a run that succeeded.
    let work_path = tempfile::Builder::new()
        .prefix("teaminbox-bench-")
        .tempdir()
        .expect("work directory")
        .keep();
    {
        use std::os::unix::fs::PermissionsExt;
        // Postfix (user postfix in the container) must reach the sockets.
        std::fs::set_permissions(&work_path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod work directory");
    }
    let log = std::fs::File::create(work_path.join("daemon.log")).expect("daemon log");
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(log))
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .init();
    let shared = work_path.join("shared");
    std::fs::create_dir_all(&shared).expect("shared directory");
    eprintln!("bench: work directory {}", work_path.display());

    let wants = |stage: &str| args.only.iter().any(|s| s == stage);
    let pg_admin = std::env::var(teaminbox_testkit::POSTGRES_URL_ENV).ok();
    let mail = (wants("smtp") || wants("memory")).then(|| {
        eprintln!("bench: DKIM key, test DNS, signed message");
        common::Mail::new(args.size)
    });

    let smtp = wants("smtp").then(|| {
        let pg = pg_admin
            .as_deref()
            .expect("TEAMINBOX_TEST_POSTGRES_URL (tests/bench/run starts PostgreSQL)");
        smtp::run(
            &smtp::Params {
                messages: args.messages,
                sessions: args.sessions,
                runs: args.runs,
                warmup: args.warmup,
                latency_messages: args.latency,
            },
            &work_path,
            &shared,
            mail.as_ref().expect("mail"),
            pg,
        )
    });
    let memory = wants("memory").then(|| {
        assert!(
            args.milter_bin.exists(),
            "{} missing: cargo build --release -p teaminbox-milter",
            args.milter_bin.display()
        );
        memory::run(
            &args.milter_bin,
            &work_path,
            &shared,
            mail.as_ref().expect("mail"),
            args.concurrent,
        )
    });
    let processor = wants("processor").then(|| {
        processor::run(
            &work_path,
            args.processor,
            args.background,
            args.workers,
            args.tmpfs,
        )
    });
    let web = (wants("web") && args.web > 0).then(|| {
        assert!(
            pg_admin.is_some(),
            "TEAMINBOX_TEST_POSTGRES_URL (tests/bench/run starts PostgreSQL)"
        );
        web::run(&work_path, args.web, args.web_requests)
    });
    let postgres_version = pg_admin.as_deref().map(common::pg_version);
    let postgres_settings = pg_admin.as_deref().map(common::pg_settings);

    let text = report::render(&report::Inputs {
        args: &args,
        machine,
        postgres_version,
        postgres_settings,
        smtp: smtp.as_ref(),
        memory: memory.as_ref(),
        processor: processor.as_ref(),
        web: web.as_ref(),
        criterion: report::criterion_results(&args.criterion),
        seconds: started.elapsed().as_secs_f64(),
    });
    std::fs::write(&args.out, text).expect("write the report");
    drop(mail);
    let _ = std::fs::remove_dir_all(&work_path);
    eprintln!(
        "bench: wrote {} ({:.0} s)",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
}
