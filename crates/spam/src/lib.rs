//! teaminbox-spam: rspamd, the content spam filter teaminbox asks
//! (`rspamd`: `/checkv2`, `/learnspam`, `/learnham` over plain HTTP), and
//! the lessons the team's spam and not-spam decisions teach it, given by a
//! durable queue's worker (`lessons`). The milter's use of the verdict is
//! `teaminbox-filter`'s `spam`.

pub mod lessons;
pub mod rspamd;

use rspamd::Rspamd;
use teaminbox_store::config::SpamConfig;

/// The rspamd client that checks messages at SMTP time: within
/// `[spam] timeout`.
pub fn checker(config: &SpamConfig) -> Rspamd {
    Rspamd::new(&config.rspamd_url, &config.password, config.timeout.0)
}

/// The time a lesson may take: nobody waits for it, and a large message
/// learned on a busy rspamd may take longer than a check may.
const LESSON_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The rspamd client that gives lessons (the lesson worker, `spam learn`).
pub fn teacher(config: &SpamConfig) -> Rspamd {
    Rspamd::new(
        &config.rspamd_url,
        &config.password,
        config.timeout.0.max(LESSON_TIMEOUT),
    )
}
