//! What machine the numbers come from, and how busy it was.

use std::{fs, process::Command};

/// CPU model (first "model name" of /proc/cpuinfo).
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Online CPUs, as `nproc` counts them.
pub fn nproc() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// MemTotal of /proc/meminfo in bytes.
pub fn memory_bytes() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> (f64, f64, f64) {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut v = text
        .split_whitespace()
        .map(|x| x.parse::<f64>().unwrap_or(f64::NAN));
    (
        v.next().unwrap_or(f64::NAN),
        v.next().unwrap_or(f64::NAN),
        v.next().unwrap_or(f64::NAN),
    )
}

/// The 1-minute load average below which the machine counts as idle.
pub const IDLE_LOAD: f64 = 0.5;

/// Waits, up to `limit`, for the 1-minute load average to fall below
/// [`IDLE_LOAD`]: the build and the micro-benchmarks just before keep it up
/// for a minute or two after they end. Returns the load it ended with.
pub fn wait_until_idle(limit: std::time::Duration) -> f64 {
    let started = std::time::Instant::now();
    loop {
        let load = load_average().0;
        // An unreadable load (NaN) does not hold the benchmark up.
        if load.is_nan() || load < IDLE_LOAD || started.elapsed() >= limit {
            return load;
        }
        eprintln!("bench: waiting for the machine to settle (1-minute load average {load:.2})");
        std::thread::sleep(std::time::Duration::from_secs(10));
    }
}

/// The kernel release (`uname -r`).
pub fn kernel() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// First line of a command's stdout (or stderr, for tools that print their
/// version there); `None` if it cannot run.
pub fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// Resident set size figures of a process from /proc/PID/status, in bytes:
/// (VmHWM, VmRSS).
pub fn rss(pid: u32) -> Option<(u64, u64)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// CPU time of the whole machine from /proc/stat, in clock ticks: (busy,
/// total). Busy is everything but idle and iowait. The difference of two
/// readings gives how busy the CPUs were in between.
pub fn cpu_times() -> (u64, u64) {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is in user).
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// How busy the CPUs were between two [`cpu_times`] readings, 0..=1.
pub fn busy_between(before: (u64, u64), after: (u64, u64)) -> f64 {
    let total = after.1.saturating_sub(before.1);
    if total == 0 {
        return f64::NAN;
    }
    after.0.saturating_sub(before.0) as f64 / total as f64
}

/// Clock ticks per second of /proc's CPU times (USER_HZ; 100 on Linux).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of a process (all its threads), in clock
/// ticks; 0 if it is gone.
pub fn process_cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in parentheses and may contain spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ")": state(3) ... utime is field 14, stime 15 (1-based).
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

/// CPU ticks of every process whose command name is `comm` (e.g.
/// "postgres"), summed over those alive now.
pub fn comm_cpu_ticks(comm: &str) -> u64 {
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .map(process_cpu_ticks)
        .sum()
}

/// CPU time used by a Docker container's processes (its cgroup, with
/// `docker exec`ed ones), in nanoseconds; cgroup v1 (cpuacct) or v2.
pub fn container_cpu_ns(id: &str) -> Option<u64> {
    let v1 = format!("/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage");
    if let Ok(text) = fs::read_to_string(v1) {
        return text.trim().parse().ok();
    }
    for v2 in [
        format!("/sys/fs/cgroup/docker/{id}/cpu.stat"),
        format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat"),
    ] {
        if let Ok(text) = fs::read_to_string(v2) {
            return text
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|us| us * 1000);
        }
    }
    None
}
