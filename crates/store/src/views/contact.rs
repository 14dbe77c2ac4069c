//! Contacts, with their owners and conversations.

use super::*;

/// A contact: someone who wrote to a channel, or whose owner the admin set.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    /// Lower case.
    pub address: String,
    pub name: Option<String>,
    /// The user a `contact-owner` channel assigns this contact's
    /// conversations to.
    pub owner_email: Option<String>,
    /// Oldest first.
    pub conversation_ids: Vec<i64>,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
}

/// How the admin names a contact: by id or by address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContactKey {
    Id(i64),
    /// Lower case.
    Address(String),
}

impl ContactKey {
    /// A number is an id; anything else an address, taken as given.
    pub fn parse(text: &str) -> Self {
        match text.parse() {
            Ok(id) if text.bytes().all(|b| b.is_ascii_digit()) => Self::Id(id),
            _ => Self::Address(text.to_owned()),
        }
    }
}

impl std::fmt::Display for ContactKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Address(address) => f.write_str(address),
        }
    }
}

pub(super) type ContactRow = (i64, String, Option<String>, Option<String>, NaiveDateTime);

pub(super) fn load_contacts(
    conn: &mut DbConnection,
    key: Option<&ContactKey>,
) -> StoreResult<Vec<Contact>> {
    let mut query = contacts::table
        .left_join(users::table.on(users::id.nullable().eq(contacts::owner_user_id)))
        .select((
            contacts::id,
            contacts::address,
            contacts::name,
            users::email.nullable(),
            contacts::created_at,
        ))
        .order(contacts::id)
        .into_boxed();
    match key {
        Some(ContactKey::Id(id)) => query = query.filter(contacts::id.eq(*id)),
        Some(ContactKey::Address(address)) => {
            query = query.filter(contacts::address.eq(address.clone()))
        }
        None => {}
    }
    let rows = query.load::<ContactRow>(conn)?;
    let mut conversation_ids = HashMap::<i64, Vec<i64>>::new();
    let mut of_contacts = conversations::table
        .select((conversations::contact_id, conversations::id))
        .order(conversations::id)
        .into_boxed();
    if let [(id, ..)] = rows.as_slice() {
        of_contacts = of_contacts.filter(conversations::contact_id.eq(*id));
    }
    for (contact, conversation) in of_contacts.load::<(i64, i64)>(conn)? {
        conversation_ids
            .entry(contact)
            .or_default()
            .push(conversation);
    }
    Ok(rows
        .into_iter()
        .map(|(id, address, name, owner_email, created_at)| Contact {
            id,
            address,
            name,
            owner_email,
            conversation_ids: conversation_ids.remove(&id).unwrap_or_default(),
            created_at,
        })
        .collect())
}

pub(crate) fn find_contact(conn: &mut DbConnection, key: &ContactKey) -> StoreResult<Contact> {
    load_contacts(conn, Some(key))?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("there is no contact {key}")))
}
