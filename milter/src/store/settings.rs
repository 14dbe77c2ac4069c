//! The admin's part of the store: channels, and the allow and deny lists.

use super::{
    is_unique_violation,
    schema::{channels, filters},
    DbConnection, Store, StoreError, StoreResult,
};
use crate::address::ForwardingAddress;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// A channel: a team inbox behind one hosted forwarding address.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, PartialEq, Eq)]
#[diesel(table_name = channels)]
pub struct Channel {
    pub id: i64,
    pub name: String,
    pub company: String,
    pub forwarding_address: String,
    /// `draft` until the admin connects and finishes, then `connected`.
    pub status: String,
    /// A disabled channel refuses mail at RCPT with 550 5.2.1.
    pub enabled: bool,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
}

/// What the admin gives to create a channel.
#[derive(Clone, Debug)]
pub struct NewChannel<'a> {
    pub name: &'a str,
    pub company: &'a str,
    pub forwarding_address: &'a ForwardingAddress,
}

pub struct Settings<'s> {
    pub(super) store: &'s Store,
}

impl Settings<'_> {
    /// Creates a channel in status `draft`. A forwarding address already
    /// taken is refused by the database's unique index, so two admins at
    /// once cannot both get it.
    pub fn create_channel(&self, channel: &NewChannel<'_>) -> StoreResult<Channel> {
        let address = channel.forwarding_address.to_string();
        self.store.write(|conn| {
            diesel::insert_into(channels::table)
                .values((
                    channels::name.eq(channel.name),
                    channels::company.eq(channel.company),
                    channels::forwarding_address.eq(&address),
                    channels::created_at.eq(crate::now()),
                ))
                .returning(channels::id)
                .get_result::<i64>(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!(
                            "the forwarding address {address} is already used by another channel"
                        ))
                    } else {
                        e.into()
                    }
                })
                .and_then(|id| find_channel(conn, id))
        })
    }

    pub fn channels(&self) -> StoreResult<Vec<Channel>> {
        self.store.read(|conn| {
            Ok(channels::table
                .select(Channel::as_select())
                .order(channels::id)
                .load(conn)?)
        })
    }

    pub fn channel(&self, id: i64) -> StoreResult<Channel> {
        self.store.read(|conn| find_channel(conn, id))
    }

    /// Turns a channel's mail on or off.
    pub fn set_enabled(&self, id: i64, enabled: bool) -> StoreResult<Channel> {
        self.store.write(|conn| {
            diesel::update(channels::table.find(id))
                .set(channels::enabled.eq(enabled))
                .execute(conn)?;
            find_channel(conn, id)
        })
    }
}

fn find_channel(conn: &mut DbConnection, id: i64) -> StoreResult<Channel> {
    channels::table
        .find(id)
        .select(Channel::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no channel {id}")))
}

/// Which list a filter entry is on. The deny list wins over the allow list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterList {
    Allow,
    Deny,
}

impl FilterList {
    /// The name as stored and shown: `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

impl std::fmt::Display for FilterList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FilterList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            _ => Err(format!(
                "`{}` is not a list; the lists are allow and deny",
                crate::address::printable(s)
            )),
        }
    }
}

/// What a filter entry's value is: a sender address, a sender domain (and
/// its subdomains), or a client IP address or network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    Address,
    Domain,
    Ip,
}

impl FilterKind {
    /// The name as stored and shown: `address`, `domain` or `ip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::Domain => "domain",
            Self::Ip => "ip",
        }
    }
}

impl std::fmt::Display for FilterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FilterKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "address" => Ok(Self::Address),
            "domain" => Ok(Self::Domain),
            "ip" => Ok(Self::Ip),
            _ => Err(format!(
                "`{}` is not a filter kind; the kinds are address, domain and ip",
                crate::address::printable(s)
            )),
        }
    }
}

/// An entry on the allow or deny list. `value` is canonical, as
/// [`FilterValue`](crate::filter::lists::FilterValue) prints it: a lower-case
/// address or domain, or an IP network such as `192.0.2.0/24` (a single
/// address is `/32` or `/128`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Filter {
    pub id: i64,
    pub list: FilterList,
    pub kind: FilterKind,
    pub value: String,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
}

/// The columns of `filters`, in the order [`Filter::from_row`] takes them.
pub(super) type FilterColumns = (
    filters::id,
    filters::list,
    filters::kind,
    filters::value,
    filters::created_at,
);

pub(super) const FILTER_COLUMNS: FilterColumns = (
    filters::id,
    filters::list,
    filters::kind,
    filters::value,
    filters::created_at,
);

pub(super) type FilterRow = (i64, String, String, String, NaiveDateTime);

impl Filter {
    /// A stored row. The table's CHECK constraints keep `list` and `kind` to
    /// the known names; anything else is reported rather than guessed.
    pub(super) fn from_row((id, list, kind, value, created_at): FilterRow) -> StoreResult<Self> {
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
    /// [`FilterValue`]: crate::filter::lists::FilterValue
    pub fn add_filter(
        &self,
        list: FilterList,
        kind: FilterKind,
        value: &str,
    ) -> StoreResult<Filter> {
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
                        .select(FILTER_COLUMNS)
                        .first::<FilterRow>(conn)?;
                    Filter::from_row(row)
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
    pub fn filters(&self, list: Option<FilterList>) -> StoreResult<Vec<Filter>> {
        self.store.read(|conn| {
            let mut query = filters::table
                .select(FILTER_COLUMNS)
                .order((filters::list, filters::id))
                .into_boxed();
            if let Some(list) = list {
                query = query.filter(filters::list.eq(list.as_str()));
            }
            query
                .load::<FilterRow>(conn)?
                .into_iter()
                .map(Filter::from_row)
                .collect()
        })
    }
}
