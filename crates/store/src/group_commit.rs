//! Group commit: writes that arrive while another is being committed are
//! committed together, in one transaction and one sync to disk, each in a
//! savepoint of its own so that one that fails does not take the others
//! with it.
//!
//! Why: the milter answers the MTA only after its message is on disk, and
//! SQLite admits one writer at a time, so one commit per message bounds
//! the whole milter at one message per disk sync, whatever the number of
//! SMTP sessions. With a group, a sync serves every session that was
//! waiting.
//!
//! How (flat combining): a caller puts its job in the queue, then waits for
//! the leader lock. Holding it, it either finds its job already done by the
//! previous leader, or takes every job queued so far, its own among them,
//! and commits them all. Nobody waits on a timer: a lone message is
//! committed at once, as before.

use super::{DbConnection, Store, StoreError, StoreResult};
use diesel::connection::SimpleConnection;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The queue of one kind of write, shared by every clone of a [`Store`].
pub(super) struct GroupCommit<J> {
    queue: Mutex<Vec<(J, Arc<Slot>)>>,
    leader: Mutex<()>,
}

/// Where the leader puts a job's outcome.
#[derive(Default)]
struct Slot(Mutex<Option<StoreResult<i64>>>);

impl Slot {
    fn take(&self) -> Option<StoreResult<i64>> {
        lock(&self.0).take()
    }

    fn put(&self, outcome: StoreResult<i64>) {
        *lock(&self.0) = Some(outcome);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data whole.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<J> Default for GroupCommit<J> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Vec::new()),
            leader: Mutex::new(()),
        }
    }
}

impl<J> GroupCommit<J> {
    /// Writes `job` with `apply` and returns its id once it is committed
    /// (with whatever other jobs were waiting).
    /// `bytes` tells how much data a job carries (see
    /// [`Store::write_carrying`]).
    pub(super) fn submit(
        &self,
        store: &Store,
        job: J,
        apply: impl Fn(&mut DbConnection, &J) -> StoreResult<i64>,
        bytes: impl Fn(&J) -> usize,
    ) -> StoreResult<i64> {
        let slot = Arc::new(Slot::default());
        lock(&self.queue).push((job, Arc::clone(&slot)));
        let _leader = lock(&self.leader);
        if let Some(outcome) = slot.take() {
            return outcome;
        }
        // Not done by the previous leader, so still queued: lead.
        let batch = std::mem::take(&mut *lock(&self.queue));
        let carried = batch.iter().map(|(job, _)| bytes(job)).sum();
        for ((_, slot), outcome) in batch.iter().zip(commit(store, &batch, carried, &apply)) {
            slot.put(outcome);
        }
        // Empty only if a leader before us panicked with our job in hand.
        slot.take().unwrap_or_else(|| {
            Err(StoreError::Unavailable(
                "the write was lost before its commit".into(),
            ))
        })
    }
}

/// Commits `batch` in one transaction and returns each job's outcome.
fn commit<J>(
    store: &Store,
    batch: &[(J, Arc<Slot>)],
    carried: usize,
    apply: &impl Fn(&mut DbConnection, &J) -> StoreResult<i64>,
) -> Vec<StoreResult<i64>> {
    if let [(job, _)] = batch {
        // Alone, a job needs no savepoint (two more round trips on
        // PostgreSQL): its error rolls the whole transaction back.
        return vec![store.write_carrying(carried, |conn| apply(conn, job))];
    }
    let committed = store.write_carrying(carried, |conn| {
        let mut outcomes = Vec::with_capacity(batch.len());
        for (job, _) in batch {
            outcomes.push(in_savepoint(conn, |conn| apply(conn, job))?);
        }
        Ok(outcomes)
    });
    committed.unwrap_or_else(|e| {
        // One error for all: nothing of the batch is stored.
        let text = e.to_string();
        batch
            .iter()
            .map(|_| Err(StoreError::Unavailable(format!("commit failed: {text}"))))
            .collect()
    })
}

/// Runs `f` in a savepoint of the open transaction: on error, what it wrote
/// is undone and the transaction goes on. The outer error is the
/// savepoint's own, which ends the whole transaction; the inner one is
/// `f`'s.
fn in_savepoint(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> StoreResult<i64>,
) -> StoreResult<StoreResult<i64>> {
    conn.batch_execute("SAVEPOINT group_member")?;
    let outcome = f(conn);
    match outcome {
        Ok(_) => conn.batch_execute("RELEASE SAVEPOINT group_member")?,
        Err(_) => conn
            .batch_execute("ROLLBACK TO SAVEPOINT group_member; RELEASE SAVEPOINT group_member")?,
    }
    Ok(outcome)
}
