//! What the queues' claims share (inbound, outbound, spam lessons): the
//! first unclaimed row, and the claims of holders that are gone.

/// The first id `query` selects, for a claim: on PostgreSQL its row is
/// locked for the transaction and rows other workers hold are skipped; on
/// SQLite the write transaction already admits one claimer at a time.
/// A macro because the two backends need the query typed for each.
macro_rules! first_unclaimed {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::DbConnection::Postgres(pg) => $query
                .for_update()
                .skip_locked()
                .first::<i64>(pg)
                .optional(),
            $crate::DbConnection::Sqlite(sqlite) => $query.first::<i64>(sqlite).optional(),
        }
    };
}
pub(crate) use first_unclaimed;

/// The claims among `claims` (id, holder, claimed at) whose holder is
/// `gone`, with their holders.
pub(crate) fn dead_claims(
    claims: Vec<(i64, Option<String>, Option<chrono::NaiveDateTime>)>,
    gone: &dyn Fn(&str, chrono::NaiveDateTime) -> bool,
) -> Vec<(i64, String)> {
    claims
        .into_iter()
        .filter_map(|(id, holder, at)| match (holder, at) {
            (Some(holder), Some(at)) if gone(&holder, at) => Some((id, holder)),
            _ => None,
        })
        .collect()
}

/// Why a queue row whose claim was given back or taken over after its
/// worker stopped is not done.
pub(crate) fn died_while_processing(holder: &str) -> String {
    format!("worker died while processing (claim of {holder})")
}
