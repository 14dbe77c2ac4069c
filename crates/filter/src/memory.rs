//! The memory budget for messages at end of message (`[milter]
//! max_memory`), shared by all sessions.
//!
//! While it arrives a message is spooled (memory up to
//! `memory_spool_limit`, then a temporary file), but the checks and the
//! insert need it whole in memory: without a bound, 100 sessions ending
//! 30 MiB messages at once would need several GiB, and an out-of-memory
//! kill takes the processor and outbound down with the milter. A session
//! reserves what its message will occupy before reading it back; if other
//! sessions hold the budget for longer than [`WAIT`], its message is
//! answered `451 4.3.2` and the MTA's client tries again later.

use std::{sync::Arc, time::Duration};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a session waits for memory before it tempfails: about what a
/// 30 MiB message takes to be checked and committed, well below the MTA's
/// `milter_content_timeout`.
pub const WAIT: Duration = Duration::from_secs(2);

/// Counted in KiB, so that a semaphore's `u32` permits reach 4 TiB.
const UNIT: u64 = 1024;

#[derive(Debug)]
pub struct MemoryBudget {
    units: Arc<Semaphore>,
    total_units: u32,
}

/// Memory reserved for one message; given back when dropped.
#[derive(Debug)]
pub struct Reservation(#[allow(dead_code)] OwnedSemaphorePermit);

impl MemoryBudget {
    pub fn new(bytes: u64) -> Self {
        let total_units = u32::try_from(bytes / UNIT)
            .unwrap_or(u32::MAX)
            .min(Semaphore::MAX_PERMITS as u32)
            .max(1);
        Self {
            units: Arc::new(Semaphore::new(total_units as usize)),
            total_units,
        }
    }

    /// Reserves `bytes`, waiting up to `wait` for other sessions to give
    /// memory back; `None` if they did not. A reservation larger than the
    /// whole budget takes all of it (it waits until it is alone).
    pub async fn reserve(&self, bytes: u64, wait: Duration) -> Option<Reservation> {
        let units = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total_units);
        let acquire = Arc::clone(&self.units).acquire_many_owned(units);
        match tokio::time::timeout(wait, acquire).await {
            Ok(Ok(permit)) => Some(Reservation(permit)),
            // Timed out (the semaphore is never closed).
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn reservations_beyond_the_budget_wait_and_then_fail() {
        let budget = MemoryBudget::new(10 * UNIT);
        let first = budget.reserve(6 * UNIT, SHORT).await.expect("fits");
        assert!(budget.reserve(5 * UNIT, SHORT).await.is_none());
        let second = budget.reserve(4 * UNIT, SHORT).await.expect("fits beside");
        drop(first);
        assert!(budget.reserve(5 * UNIT, SHORT).await.is_some());
        drop(second);
    }

    #[tokio::test]
    async fn a_waiting_reservation_gets_memory_given_back_in_time() {
        let budget = Arc::new(MemoryBudget::new(10 * UNIT));
        let held = budget.reserve(10 * UNIT, SHORT).await.unwrap();
        let waiter = {
            let budget = Arc::clone(&budget);
            tokio::spawn(async move { budget.reserve(UNIT, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(SHORT).await;
        drop(held);
        assert!(waiter.await.unwrap().is_some());
    }

    #[tokio::test]
    async fn more_than_the_budget_takes_all_of_it() {
        let budget = MemoryBudget::new(10 * UNIT);
        let all = budget.reserve(100 * UNIT, SHORT).await.expect("alone");
        assert!(budget.reserve(1, SHORT).await.is_none());
        drop(all);
        assert!(budget.reserve(1, SHORT).await.is_some());
    }
}
