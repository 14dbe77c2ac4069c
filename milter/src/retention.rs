//! The daemon's purge of what `[retention]` says it no longer needs: at
//! start and then every hour, in small batches (`store::retention`), with
//! one log line per purge.

use std::time::Duration;
use teaminbox_store::config::{Keep, RetentionConfig};
use teaminbox_store::{retention::in_batches, Store, StoreError, StoreResult};
use tokio::sync::watch;
use tracing::{info, warn};

/// How often the daemon purges.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// What one purge removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub rejections: usize,
    pub raw_messages: usize,
    pub queue_rows: usize,
}

/// Purges at once and then every [`PURGE_EVERY`] until `stopped`.
pub async fn run(store: Store, config: RetentionConfig, mut stopped: watch::Receiver<bool>) {
    let mut hourly = tokio::time::interval(PURGE_EVERY);
    hourly.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = hourly.tick() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        let (store, stop) = (store.clone(), stopped.clone());
        let result =
            tokio::task::spawn_blocking(move || purge(&store, &config, || !*stop.borrow()))
                .await
                .unwrap_or_else(|e| Err(StoreError::Unavailable(e.to_string())));
        match result {
            Ok(purged) => info!(
                "retention purge: {} rejections deleted (kept {}), {} raw messages of filed mail dropped (kept {}), {} done queue rows deleted (kept {})",
                purged.rejections,
                String::from(config.rejections),
                purged.raw_messages,
                String::from(config.processed_raw_messages),
                purged.queue_rows,
                String::from(config.done_queue_rows),
            ),
            Err(e) => warn!("retention purge failed, tried again in an hour: {e}"),
        }
    }
}

/// One purge of everything `config` limits, until done or `go_on` says
/// stop.
pub fn purge(
    store: &Store,
    config: &RetentionConfig,
    go_on: impl Fn() -> bool,
) -> StoreResult<Purged> {
    let retention = store.retention();
    let now = teaminbox_store::now();
    let older_than = |keep: Keep| match keep {
        Keep::Forever => None,
        Keep::For(age) => {
            Some(now - chrono::Duration::from_std(age).unwrap_or(chrono::Duration::MAX))
        }
    };
    let mut purged = Purged::default();
    if let Some(before) = older_than(config.rejections) {
        purged.rejections = in_batches(|| retention.delete_rejections(before), &go_on)?;
    }
    if let Some(before) = older_than(config.processed_raw_messages) {
        purged.raw_messages = in_batches(|| retention.drop_processed_raw_messages(before), &go_on)?;
    }
    if let Some(before) = older_than(config.done_queue_rows) {
        purged.queue_rows = in_batches(|| retention.delete_done_queue_rows(before), &go_on)?;
    }
    Ok(purged)
}
