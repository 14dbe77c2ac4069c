//! Time as the store keeps it: naive UTC, shown with its `Z`.

use chrono::NaiveDateTime;

/// The current time in UTC, as stored in the database.
pub fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Serializes a stored UTC time as RFC 3339 with its `Z`, for JSON output.
pub fn serialize_utc<S: serde::Serializer>(
    time: &NaiveDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(
        &time
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// Serializes an optional stored UTC time as RFC 3339 with its `Z`, or null.
pub fn serialize_optional_utc<S: serde::Serializer>(
    time: &Option<NaiveDateTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serialize_utc(time, serializer),
        None => serializer.serialize_none(),
    }
}
