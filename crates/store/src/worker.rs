//! The loop the processor's and outbound's workers share.

use std::{sync::Arc, time::Duration};
use tokio::sync::{watch, Notify};
use tracing::warn;

/// Runs `step` on a blocking thread over and over until `stop` turns true:
/// at once after a step that did something (returned true), otherwise after
/// a wake-up, `idle_poll` or the stop. A step in hand is finished first. A
/// step that panics is logged under `name` and counts as idle.
pub async fn keep_working<F>(
    name: &str,
    step: Arc<F>,
    wake: &Notify,
    idle_poll: Duration,
    mut stop: watch::Receiver<bool>,
) where
    F: Fn() -> bool + Send + Sync + 'static,
{
    while !*stop.borrow() {
        let this = Arc::clone(&step);
        match tokio::task::spawn_blocking(move || this()).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => warn!("{name} failed: {e}"),
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(idle_poll) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Runs `work`; a panic becomes its message, so that the work in hand can
/// be given back with it as its error.
pub fn catch_panic<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        format!("panicked: {message}")
    })
}
