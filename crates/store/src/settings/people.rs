//! People: users, their availability, teams and team members.

use super::local_parts::reserve_reply_address;
use super::Settings;
use crate::model::User;
use crate::rows::user_id;
use crate::{
    rows::is_unique_violation,
    schema::{team_members, teams, users},
    DbConnection, StoreError, StoreResult,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

/// What the admin gives to add a user; `email` in canonical (lower-case)
/// form.
#[derive(Clone, Copy, Debug)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub username: &'a str,
}

impl NewUser<'_> {
    /// The username of a user added without one: the local part of their
    /// email (`teaminbox-admin user add` and the web's Users).
    pub fn default_username(email: &str) -> &str {
        email.rsplit_once('@').map_or(email, |(local, _)| local)
    }
}

/// A team and its members' emails, sorted.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TeamWithMembers {
    pub id: i64,
    pub name: String,
    pub members: Vec<String>,
    #[serde(serialize_with = "crate::serialize_utc")]
    pub created_at: NaiveDateTime,
}

impl Settings<'_> {
    /// Adds a user, available, and reserves their username as the local
    /// part of their reply address. An email already taken, or a username
    /// whose local part a forwarding address or another user has, is
    /// refused with [`StoreError::Conflict`].
    pub fn add_user(&self, user: &NewUser<'_>) -> StoreResult<User> {
        self.store.write(|conn| {
            diesel::insert_into(users::table)
                .values((
                    users::email.eq(user.email),
                    users::first_name.eq(user.first_name),
                    users::last_name.eq(user.last_name),
                    users::username.eq(user.username),
                    users::created_at.eq(crate::now()),
                ))
                .returning(users::id)
                .get_result::<i64>(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!(
                            "a user with email {} already exists",
                            user.email
                        ))
                    } else {
                        e.into()
                    }
                })
                .and_then(|id| {
                    reserve_reply_address(conn, id, user.username)?;
                    Ok(users::table
                        .find(id)
                        .select(User::as_select())
                        .first(conn)?)
                })
        })
    }

    /// Every user, in the order added.
    /// One user by email (any case).
    pub fn user(&self, email: &str) -> StoreResult<User> {
        let email = email.to_ascii_lowercase();
        self.store.read(|conn| {
            users::table
                .filter(users::email.eq(&email))
                .select(User::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("there is no user {email}")))
        })
    }

    pub fn users(&self) -> StoreResult<Vec<User>> {
        self.store.read(|conn| {
            Ok(users::table
                .select(User::as_select())
                .order(users::id)
                .load(conn)?)
        })
    }

    /// Marks a user available or away.
    pub fn set_availability(&self, email: &str, available: bool) -> StoreResult<User> {
        self.store.write(|conn| {
            let id = user_id(conn, email)?;
            diesel::update(users::table.find(id))
                .set(users::available.eq(available))
                .execute(conn)?;
            Ok(users::table
                .find(id)
                .select(User::as_select())
                .first(conn)?)
        })
    }

    /// Adds a team with no members. A name already taken is refused with
    /// [`StoreError::Conflict`].
    pub fn add_team(&self, name: &str) -> StoreResult<TeamWithMembers> {
        self.store.write(|conn| {
            let id = diesel::insert_into(teams::table)
                .values((teams::name.eq(name), teams::created_at.eq(crate::now())))
                .returning(teams::id)
                .get_result::<i64>(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!("a team named {name} already exists"))
                    } else {
                        StoreError::from(e)
                    }
                })?;
            find_team(conn, id)
        })
    }

    /// Adds a user (by email) to a team (by name). Either missing is
    /// [`StoreError::NotFound`]; a member already is a
    /// [`StoreError::Conflict`].
    pub fn add_team_member(&self, team: &str, email: &str) -> StoreResult<TeamWithMembers> {
        self.store.write(|conn| {
            let team_id = team_id(conn, team)?;
            let user_id = user_id(conn, email)?;
            let already = team_members::table
                .find((team_id, user_id))
                .count()
                .get_result::<i64>(conn)?;
            if already > 0 {
                return Err(StoreError::Conflict(format!(
                    "{email} is already a member of team {team}"
                )));
            }
            diesel::insert_into(team_members::table)
                .values((
                    team_members::team_id.eq(team_id),
                    team_members::user_id.eq(user_id),
                ))
                .execute(conn)?;
            find_team(conn, team_id)
        })
    }

    /// Every team with its members, in the order added.
    pub fn teams(&self) -> StoreResult<Vec<TeamWithMembers>> {
        self.store.read(|conn| {
            let rows = teams::table
                .select((teams::id, teams::name, teams::created_at))
                .order(teams::id)
                .load::<(i64, String, NaiveDateTime)>(conn)?;
            let mut members = std::collections::HashMap::<i64, Vec<String>>::new();
            for (team, email) in team_members::table
                .inner_join(users::table.on(users::id.eq(team_members::user_id)))
                .select((team_members::team_id, users::email))
                .order(users::email)
                .load::<(i64, String)>(conn)?
            {
                members.entry(team).or_default().push(email);
            }
            Ok(rows
                .into_iter()
                .map(|(id, name, created_at)| TeamWithMembers {
                    id,
                    name,
                    members: members.remove(&id).unwrap_or_default(),
                    created_at,
                })
                .collect())
        })
    }
}

pub(super) fn team_id(conn: &mut DbConnection, name: &str) -> StoreResult<i64> {
    teams::table
        .filter(teams::name.eq(name))
        .select(teams::id)
        .first::<i64>(conn)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("there is no team {name}")))
}

fn find_team(conn: &mut DbConnection, id: i64) -> StoreResult<TeamWithMembers> {
    let (name, created_at) = teams::table
        .find(id)
        .select((teams::name, teams::created_at))
        .first::<(String, NaiveDateTime)>(conn)?;
    let members = team_members::table
        .inner_join(users::table.on(users::id.eq(team_members::user_id)))
        .filter(team_members::team_id.eq(id))
        .select(users::email)
        .order(users::email)
        .load::<String>(conn)?;
    Ok(TeamWithMembers {
        id,
        name,
        members,
        created_at,
    })
}
