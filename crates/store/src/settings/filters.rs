//! The allow and deny lists.

use super::Settings;
use crate::{
    model::{FilterKind, FilterList},
    rows::is_unique_violation,
    schema::filters,
    StoreError, StoreResult,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// An entry on the allow or deny list. `value` is canonical, as
/// [`FilterValue`](super::list_entry::FilterValue) prints it: a lower-case
/// address or domain, or an IP network such as `192.0.2.0/24` (a single
/// address is `/32` or `/128`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListEntry {
    pub id: i64,
    pub list: FilterList,
    pub kind: FilterKind,
    pub value: String,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
}

/// The columns of `filters`, in the order [`ListEntry::from_row`] takes them.
pub(crate) type FilterColumns = (
    filters::id,
    filters::list,
    filters::kind,
    filters::value,
    filters::created_at,
);

pub(crate) const LIST_ENTRY_COLUMNS: FilterColumns = (
    filters::id,
    filters::list,
    filters::kind,
    filters::value,
    filters::created_at,
);

pub(crate) type ListEntryRow = (i64, String, String, String, NaiveDateTime);

impl ListEntry {
    /// A stored row. The table's CHECK constraints keep `list` and `kind` to
    /// the known names; anything else is reported rather than guessed.
    pub(crate) fn from_row((id, list, kind, value, created_at): ListEntryRow) -> StoreResult<Self> {
        let bad = |e: String| {
            StoreError::Query(diesel::result::Error::DeserializationError(
                format!("filters row {id}: {e}").into(),
            ))
        };
        Ok(Self {
            id,
            list: list.parse().map_err(bad)?,
            kind: kind.parse().map_err(bad)?,
            value,
            created_at,
        })
    }
}

impl Settings<'_> {
    /// Puts `value` (canonical, as [`FilterValue`] prints it) on `list`. An
    /// entry already there is refused with [`StoreError::Conflict`].
    ///
    /// [`FilterValue`]: super::list_entry::FilterValue
    pub fn add_filter(
        &self,
        list: FilterList,
        kind: FilterKind,
        value: &str,
    ) -> StoreResult<ListEntry> {
        self.store.write(|conn| {
            diesel::insert_into(filters::table)
                .values((
                    filters::list.eq(list.as_str()),
                    filters::kind.eq(kind.as_str()),
                    filters::value.eq(value),
                    filters::created_at.eq(crate::now()),
                ))
                .returning(filters::id)
                .get_result::<i64>(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!(
                            "{kind} {value} is already on the {list} list"
                        ))
                    } else {
                        e.into()
                    }
                })
                .and_then(|id| {
                    let row = filters::table
                        .find(id)
                        .select(LIST_ENTRY_COLUMNS)
                        .first::<ListEntryRow>(conn)?;
                    ListEntry::from_row(row)
                })
        })
    }

    /// Takes `value` (canonical) off `list`; [`StoreError::NotFound`] if it
    /// is not there.
    pub fn remove_filter(
        &self,
        list: FilterList,
        kind: FilterKind,
        value: &str,
    ) -> StoreResult<()> {
        self.store.write(|conn| {
            let removed = diesel::delete(
                filters::table
                    .filter(filters::list.eq(list.as_str()))
                    .filter(filters::kind.eq(kind.as_str()))
                    .filter(filters::value.eq(value)),
            )
            .execute(conn)?;
            if removed == 0 {
                return Err(StoreError::NotFound(format!(
                    "{kind} {value} is not on the {list} list"
                )));
            }
            Ok(())
        })
    }

    /// The entries of one list, or of both (allow first), each in the
    /// order they were added.
    pub fn filters(&self, list: Option<FilterList>) -> StoreResult<Vec<ListEntry>> {
        self.store.read(|conn| {
            let mut query = filters::table
                .select(LIST_ENTRY_COLUMNS)
                .order((filters::list, filters::id))
                .into_boxed();
            if let Some(list) = list {
                query = query.filter(filters::list.eq(list.as_str()));
            }
            query
                .load::<ListEntryRow>(conn)?
                .into_iter()
                .map(ListEntry::from_row)
                .collect()
        })
    }
}
