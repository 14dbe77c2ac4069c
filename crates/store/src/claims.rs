//! Who holds a queue row while it is worked on, for how long, and when a
//! claim is given back without waiting for its lease.
//!
//! A claim names its holder `host:pid:n` (worker `n` of process `pid` on
//! `host`) and holds for [`LEASE`] after it was made or last renewed. A
//! worker renews its claim while it works ([`renewing`]), so the lease can
//! be short. A daemon that starts gives back at once the claims of earlier
//! processes of its host that no longer run ([`release_dead_claims`]);
//! claims of other hosts expire by lease.

use crate::{Store, StoreResult};
use chrono::NaiveDateTime;
use std::{
    collections::BTreeMap,
    io,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, Once, PoisonError,
    },
    time::Duration,
};
use tracing::{info, warn};

/// How long a claim holds without being renewed; then any worker may take
/// the message again.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a claim in hand is renewed: three times per lease, so that
/// one slow renewal does not lose it.
pub const RENEW_EVERY: Duration = Duration::from_secs(10);
/// A process that started this long after a claim was made cannot have
/// made it: its pid was reused. The slack covers the second-rounded boot
/// time the start time is computed from.
const START_SLACK: chrono::Duration = chrono::Duration::seconds(2);

/// This host's name as claims carry it.
pub fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// This process's name in its claims, `host:pid`; each worker adds `:n`.
pub fn claimant() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

/// A renewal of one claim in hand.
type Renewal = Arc<dyn Fn() + Send + Sync>;

/// The claims a process's workers hold, renewed together by one thread
/// every `every`: cheaper than a thread per message.
pub struct Renewals {
    every: Duration,
    held: Mutex<BTreeMap<u64, Renewal>>,
    next_key: AtomicU64,
    renewer: Once,
}

/// This process's claims, renewed every [`RENEW_EVERY`].
static RENEWALS: Renewals = Renewals::new(RENEW_EVERY);

/// Runs `work` with `renew` called every [`RENEW_EVERY`] (or sooner, once)
/// until `work` returns or panics.
pub fn renewing<T>(renew: impl Fn() + Send + Sync + 'static, work: impl FnOnce() -> T) -> T {
    RENEWALS.renewing(renew, work)
}

impl Renewals {
    pub const fn new(every: Duration) -> Self {
        Self {
            every,
            held: Mutex::new(BTreeMap::new()),
            next_key: AtomicU64::new(0),
            renewer: Once::new(),
        }
    }

    /// See [`renewing`]. The renewing thread starts with the first claim.
    pub fn renewing<T>(
        &'static self,
        renew: impl Fn() + Send + Sync + 'static,
        work: impl FnOnce() -> T,
    ) -> T {
        self.renewer.call_once(|| {
            std::thread::Builder::new()
                .name("claim renewer".into())
                .spawn(|| self.renew_forever())
                .expect("cannot start the claim renewer thread");
        });
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        self.held().insert(key, Arc::new(renew));
        /// Ends the renewal when the work is over, even by a panic.
        struct Finished(&'static Renewals, u64);
        impl Drop for Finished {
            fn drop(&mut self) {
                self.0.held().remove(&self.1);
            }
        }
        let _finished = Finished(self, key);
        work()
    }

    fn renew_forever(&self) {
        loop {
            std::thread::sleep(self.every);
            // Called outside the lock: a renewal waits for the database.
            let due: Vec<Renewal> = self.held().values().cloned().collect();
            for renew in due {
                renew();
            }
        }
    }

    fn held(&self) -> MutexGuard<'_, BTreeMap<u64, Renewal>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// At start: gives back the inbound and outbound claims of earlier
/// processes of this host that no longer run, so their messages are worked
/// on now rather than when their leases run out. Logs what it did.
pub fn release_dead_claims(store: &Store) -> StoreResult<()> {
    let host = host_name();
    let gone = |holder: &str, claimed_at: NaiveDateTime| holder_is_gone(holder, &host, claimed_at);
    let inbound = store
        .queue()
        .release_dead(&gone, crate::queue::MAX_ATTEMPTS)?;
    let outbound = store.outbound().release_dead(&gone)?;
    let lessons = store.spam_lessons().release_dead(&gone)?;
    if inbound + outbound + lessons > 0 {
        info!(
            "gave back the claims of stopped processes of {host}: {inbound} inbound, {outbound} outbound, {lessons} spam lessons"
        );
    }
    Ok(())
}

/// Whether the claim `holder` (`host:pid:n`) made or renewed at
/// `claimed_at` is known to be abandoned: made on `host` by a process that
/// no longer runs. A process with that pid that started after the claim is
/// another one (the pid was reused, as after a reboot). When in doubt
/// (another host, a process we may not see), the claim is left to expire.
pub fn holder_is_gone(holder: &str, host: &str, claimed_at: NaiveDateTime) -> bool {
    let mut parts = holder.split(':');
    if parts.next() != Some(host) {
        return false;
    }
    let Some(pid) = parts.next().and_then(|p| p.parse::<i32>().ok()) else {
        return false;
    };
    match started_at(pid) {
        Ok(Some(started)) => started > claimed_at + START_SLACK,
        Ok(None) => true,
        Err(e) => {
            warn!("cannot tell whether process {pid} runs: {e}");
            false
        }
    }
}

/// When process `pid` started (UTC), or None when no such process runs
/// (a zombie does not run). From /proc: field 22 of `/proc/PID/stat`, in
/// clock ticks since boot.
fn started_at(pid: i32) -> io::Result<Option<NaiveDateTime>> {
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Unseen may still be running, under another user with /proc
            // mounted hidepid: the kernel knows.
            let exists = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                != Err(nix::errno::Errno::ESRCH);
            return if exists { Err(e) } else { Ok(None) };
        }
        Err(e) => return Err(e),
    };
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, format!("/proc/{pid}/stat"));
    // The command name, in parentheses, may hold anything: count fields
    // after its last ')'. The first is the state (field 3).
    let (_, fields) = stat.rsplit_once(')').ok_or_else(invalid)?;
    let fields: Vec<&str> = fields.split_whitespace().collect();
    if matches!(fields.first(), Some(&("Z" | "X" | "x"))) {
        return Ok(None);
    }
    let ticks: i64 = fields
        .get(22 - 3)
        .and_then(|t| t.parse().ok())
        .ok_or_else(invalid)?;
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&hz| hz > 0)
        .ok_or_else(invalid)?;
    let since_boot = chrono::Duration::milliseconds(ticks * 1000 / per_second);
    Ok(Some(boot_time()? + since_boot))
}

/// When this machine booted (UTC), from the `btime` line of /proc/stat.
fn boot_time() -> io::Result<NaiveDateTime> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|secs| secs.trim().parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map(|t| t.naive_utc())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no btime in /proc/stat"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_a_reaped_child_is_gone() {
        let host = host_name();
        let now = crate::now();
        assert!(!holder_is_gone(&format!("{}:7", claimant()), &host, now));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(holder_is_gone(&format!("{host}:{pid}:0"), &host, now));
    }

    #[test]
    fn a_claim_older_than_its_pids_process_is_gone() {
        let host = host_name();
        let long_ago = chrono::DateTime::from_timestamp(946_684_800, 0)
            .unwrap()
            .naive_utc();
        assert!(holder_is_gone(
            &format!("{}:0", claimant()),
            &host,
            long_ago
        ));
    }

    #[test]
    fn other_hosts_and_odd_names_are_left_to_their_lease() {
        let now = crate::now();
        let host = host_name();
        assert!(!holder_is_gone("elsewhere.example:1:0", &host, now));
        assert!(!holder_is_gone(&format!("{host}:notapid:0"), &host, now));
        assert!(!holder_is_gone("test-worker", &host, now));
    }

    #[test]
    fn renewing_renews_until_the_work_is_done() {
        use std::sync::atomic::AtomicUsize;
        static RENEWALS: Renewals = Renewals::new(Duration::from_millis(20));
        static RENEWED: AtomicUsize = AtomicUsize::new(0);
        let renew = || {
            RENEWED.fetch_add(1, Ordering::Relaxed);
        };
        let value = RENEWALS.renewing(renew, || {
            std::thread::sleep(Duration::from_millis(110));
            42
        });
        assert_eq!(value, 42);
        let during = RENEWED.load(Ordering::Relaxed);
        assert!((2..=6).contains(&during), "renewed {during} times");
        std::thread::sleep(Duration::from_millis(60));
        let after = RENEWED.load(Ordering::Relaxed) - during;
        assert!(
            after <= 1,
            "renewed {after} times after the work (one may be under way)"
        );

        let panicked =
            std::panic::catch_unwind(|| RENEWALS.renewing(renew, || panic!("on purpose")));
        assert!(panicked.is_err());
        assert!(
            RENEWALS.held().is_empty(),
            "a panicking work ends its renewal"
        );
    }
}
