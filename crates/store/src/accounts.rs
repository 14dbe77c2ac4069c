//! How a user signs in to the web inbox: their role, their password
//! (argon2id), their browser sessions and one-time sign-in links.
//!
//! Tokens (a session's cookie, a sign-in link) are 256 random bits shown
//! once; only their SHA-256 is stored, so that a copy of the database signs
//! no one in. A password is checked with the same work whether or not the
//! user exists, so that timing does not tell which addresses are users.

use crate::model::{User, UserRole};
use crate::rows::user_id;
use crate::schema::{sign_in_links, users, web_sessions};
use crate::{DbConnection, Store, StoreError, StoreResult};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// How long a sign-in link stays valid.
pub const SIGN_IN_LINK_LIFETIME: Duration = Duration::hours(24);
/// How long a session lasts from sign-in, however busy.
pub const SESSION_LIFETIME: Duration = Duration::days(30);
/// A session unused this long ends.
pub const SESSION_IDLE: Duration = Duration::days(7);
/// `last_seen_at` is written at most this often, so that reading pages
/// does not write on every request.
const LAST_SEEN_RESOLUTION: Duration = Duration::minutes(5);

pub struct Accounts<'s> {
    pub(super) store: &'s Store,
}

/// A session just started: the token goes in the cookie and nowhere else.
#[derive(Clone, Debug)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

/// Shorter passwords are refused: the web inbox is reachable by anyone who
/// can reach its port.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// A signed-in browser, found by its cookie's token.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: i64,
    pub user: User,
    /// What every state-changing form of this session must carry.
    pub csrf_token: String,
}

impl Accounts<'_> {
    /// Sets a user's role.
    pub fn set_role(&self, email: &str, role: UserRole) -> StoreResult<User> {
        self.store.write(|conn| {
            let id = user_id(conn, &email.to_ascii_lowercase())?;
            diesel::update(users::table.find(id))
                .set(users::role.eq(role.as_str()))
                .execute(conn)?;
            load_user(conn, id)
        })
    }

    /// Why `password` may not be anyone's new password, if it may not.
    pub fn new_password_problem(password: &str) -> Option<String> {
        (password.chars().count() < MIN_PASSWORD_CHARS)
            .then(|| format!("the password must be at least {MIN_PASSWORD_CHARS} characters"))
    }

    /// Sets a user's password and ends their sessions: a new password is
    /// how a user locks out whoever knew the old one.
    pub fn set_password(&self, email: &str, password: &str) -> StoreResult<User> {
        let hash = hash_password(password)?;
        self.store.write(|conn| {
            let id = user_id(conn, &email.to_ascii_lowercase())?;
            diesel::update(users::table.find(id))
                .set(users::password_hash.eq(&hash))
                .execute(conn)?;
            diesel::delete(web_sessions::table.filter(web_sessions::user_id.eq(id)))
                .execute(conn)?;
            load_user(conn, id)
        })
    }

    /// The user whose email (any case) and password these are, or `None`.
    /// Slow on purpose (argon2id): call it off the async runtime.
    pub fn check_password(&self, email: &str, password: &str) -> StoreResult<Option<User>> {
        let email = email.to_ascii_lowercase();
        let found = self.store.read(|conn| {
            Ok(users::table
                .filter(users::email.eq(&email))
                .select((User::as_select(), users::password_hash))
                .first::<(User, Option<String>)>(conn)
                .optional()?)
        })?;
        let Some((user, Some(hash))) = found else {
            verify_password(password, &UNMATCHABLE_HASH);
            return Ok(None);
        };
        Ok(verify_password(password, &hash).then_some(user))
    }

    /// Starts a session for a user.
    pub fn start_session(&self, user_id: i64) -> StoreResult<NewSession> {
        let token = new_token();
        let csrf_token = new_token();
        let now = crate::now();
        self.store.write(|conn| {
            diesel::insert_into(web_sessions::table)
                .values((
                    web_sessions::user_id.eq(user_id),
                    web_sessions::token_hash.eq(token_hash(&token)),
                    web_sessions::csrf_token.eq(&csrf_token),
                    web_sessions::created_at.eq(now),
                    web_sessions::last_seen_at.eq(now),
                    web_sessions::expires_at.eq(now + SESSION_LIFETIME),
                ))
                .execute(conn)?;
            Ok(())
        })?;
        Ok(NewSession { token, csrf_token })
    }

    /// The live session of a cookie's token, or `None` (unknown, expired or
    /// idle too long). Notes that it was seen.
    pub fn session(&self, token: &str) -> StoreResult<Option<Session>> {
        let now = crate::now();
        let hash = token_hash(token);
        let found = self.store.read(|conn| {
            Ok(web_sessions::table
                .inner_join(users::table)
                .filter(web_sessions::token_hash.eq(&hash))
                .filter(web_sessions::expires_at.gt(now))
                .filter(web_sessions::last_seen_at.gt(now - SESSION_IDLE))
                .select((
                    (web_sessions::id, web_sessions::csrf_token),
                    web_sessions::last_seen_at,
                    User::as_select(),
                ))
                .first::<((i64, String), NaiveDateTime, User)>(conn)
                .optional()?)
        })?;
        let Some(((id, csrf_token), last_seen, user)) = found else {
            return Ok(None);
        };
        if now - last_seen > LAST_SEEN_RESOLUTION {
            self.store.write_relaxed(|conn| {
                diesel::update(web_sessions::table.find(id))
                    .set(web_sessions::last_seen_at.eq(now))
                    .execute(conn)?;
                Ok(())
            })?;
        }
        Ok(Some(Session {
            id,
            user,
            csrf_token,
        }))
    }

    /// Ends one session (sign out). Ending an unknown one is harmless.
    pub fn end_session(&self, token: &str) -> StoreResult<()> {
        let hash = token_hash(token);
        self.store.write(|conn| {
            diesel::delete(web_sessions::table.filter(web_sessions::token_hash.eq(&hash)))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Ends every session of a user (sign out everywhere); returns how many.
    pub fn end_all_sessions(&self, user_id: i64) -> StoreResult<usize> {
        self.store.write(|conn| {
            Ok(
                diesel::delete(web_sessions::table.filter(web_sessions::user_id.eq(user_id)))
                    .execute(conn)?,
            )
        })
    }

    /// Makes a one-time sign-in link's token for a user, valid for
    /// [`SIGN_IN_LINK_LIFETIME`].
    pub fn create_sign_in_link(&self, email: &str) -> StoreResult<String> {
        let token = new_token();
        let now = crate::now();
        self.store.write(|conn| {
            let id = user_id(conn, &email.to_ascii_lowercase())?;
            diesel::insert_into(sign_in_links::table)
                .values((
                    sign_in_links::user_id.eq(id),
                    sign_in_links::token_hash.eq(token_hash(&token)),
                    sign_in_links::created_at.eq(now),
                    sign_in_links::expires_at.eq(now + SIGN_IN_LINK_LIFETIME),
                ))
                .execute(conn)?;
            Ok(())
        })?;
        Ok(token)
    }

    /// Uses a sign-in link: the user it was made for, once, while it is
    /// valid; `None` for an unknown, used or expired link.
    pub fn redeem_sign_in_link(&self, token: &str) -> StoreResult<Option<User>> {
        let now = crate::now();
        let hash = token_hash(token);
        self.store.write(|conn| {
            // One UPDATE decides, so two uses at once cannot both win.
            let used = diesel::update(
                sign_in_links::table
                    .filter(sign_in_links::token_hash.eq(&hash))
                    .filter(sign_in_links::used_at.is_null())
                    .filter(sign_in_links::expires_at.gt(now)),
            )
            .set(sign_in_links::used_at.eq(now))
            .returning(sign_in_links::user_id)
            .get_result::<i64>(conn)
            .optional()?;
            used.map(|id| load_user(conn, id)).transpose()
        })
    }
}

fn load_user(conn: &mut DbConnection, id: i64) -> StoreResult<User> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)?)
}

/// 256 random bits, URL-safe.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// argon2id with the crate's default (OWASP) parameters and a random salt.
fn hash_password(password: &str) -> StoreResult<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| StoreError::Conflict(format!("cannot make a password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::Conflict(format!("cannot hash the password: {e}")))
}

fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// An argon2id hash of a random password, checked when there is no user
/// or no password, so that the answer takes as long as a real check.
static UNMATCHABLE_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_password(&new_token()).expect("argon2id hashes with its default parameters")
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::both_databases;
    use crate::settings::NewUser;

    fn alice(store: &Store) -> User {
        store
            .settings()
            .add_user(&NewUser {
                email: "alice@example.com",
                first_name: "Alice",
                last_name: "Smith",
                username: "alice",
            })
            .unwrap()
    }

    both_databases! {
        fn a_password_signs_in_only_when_it_matches(db: TestDatabase) {
            let store = db.store();
            let user = alice(&store);
            let accounts = store.accounts();
            assert!(accounts.check_password("alice@example.com", "").unwrap().is_none());
            accounts.set_password("alice@example.com", "correct horse").unwrap();
            let stored = db.rows("SELECT password_hash AS a, role AS b, NULL AS c FROM users");
            let hash = stored[0].0.clone().unwrap();
            assert!(hash.starts_with("$argon2id$"), "{hash}");
            assert!(!hash.contains("correct horse"));
            assert_eq!(stored[0].1.as_deref(), Some("agent"));
            assert_eq!(
                accounts.check_password("Alice@Example.com", "correct horse").unwrap().map(|u| u.id),
                Some(user.id)
            );
            assert!(accounts.check_password("alice@example.com", "wrong").unwrap().is_none());
            assert!(accounts.check_password("bob@example.com", "correct horse").unwrap().is_none());
        }
    }

    both_databases! {
        fn a_role_is_agent_until_set(db: TestDatabase) {
            let store = db.store();
            assert_eq!(alice(&store).role, "agent");
            let user = store.accounts().set_role("alice@example.com", UserRole::Admin).unwrap();
            assert_eq!(user.role, "admin");
            assert!(matches!(
                store.accounts().set_role("nobody@example.com", UserRole::Admin),
                Err(StoreError::NotFound(_))
            ));
        }
    }

    both_databases! {
        fn sessions_are_stored_hashed_and_end(db: TestDatabase) {
            let store = db.store();
            let user = alice(&store);
            let accounts = store.accounts();
            let first = accounts.start_session(user.id).unwrap();
            let second = accounts.start_session(user.id).unwrap();
            let stored = db.rows("SELECT token_hash AS a, NULL AS b, NULL AS c FROM web_sessions");
            assert_eq!(stored.len(), 2);
            assert!(stored.iter().all(|row| row.0.as_deref() != Some(first.token.as_str())));
            let session = accounts.session(&first.token).unwrap().unwrap();
            assert_eq!(session.user.id, user.id);
            assert_eq!(session.csrf_token, first.csrf_token);
            assert!(accounts.session("not a token").unwrap().is_none());

            accounts.end_session(&first.token).unwrap();
            assert!(accounts.session(&first.token).unwrap().is_none());
            assert!(accounts.session(&second.token).unwrap().is_some());

            let third = accounts.start_session(user.id).unwrap();
            assert_eq!(accounts.end_all_sessions(user.id).unwrap(), 2);
            assert!(accounts.session(&second.token).unwrap().is_none());
            assert!(accounts.session(&third.token).unwrap().is_none());
        }
    }

    both_databases! {
        fn expired_or_idle_sessions_are_refused(db: TestDatabase) {
            let store = db.store();
            let user = alice(&store);
            let accounts = store.accounts();
            let expired = accounts.start_session(user.id).unwrap();
            let idle = accounts.start_session(user.id).unwrap();
            db.execute(&format!(
                "UPDATE web_sessions SET expires_at = '2000-01-01 00:00:00' WHERE token_hash = '{}'",
                token_hash(&expired.token)
            ));
            db.execute(&format!(
                "UPDATE web_sessions SET last_seen_at = '2000-01-01 00:00:00' WHERE token_hash = '{}'",
                token_hash(&idle.token)
            ));
            assert!(accounts.session(&expired.token).unwrap().is_none());
            assert!(accounts.session(&idle.token).unwrap().is_none());
        }
    }

    both_databases! {
        fn a_new_password_ends_the_sessions(db: TestDatabase) {
            let store = db.store();
            let user = alice(&store);
            let session = store.accounts().start_session(user.id).unwrap();
            store.accounts().set_password("alice@example.com", "a new one").unwrap();
            assert!(store.accounts().session(&session.token).unwrap().is_none());
        }
    }

    both_databases! {
        fn a_sign_in_link_works_once_and_expires(db: TestDatabase) {
            let store = db.store();
            let user = alice(&store);
            let accounts = store.accounts();
            let token = accounts.create_sign_in_link("alice@example.com").unwrap();
            let stored = db.rows("SELECT token_hash AS a, NULL AS b, NULL AS c FROM sign_in_links");
            assert_eq!(stored[0].0.as_deref(), Some(token_hash(&token).as_str()));
            assert_eq!(accounts.redeem_sign_in_link(&token).unwrap().map(|u| u.id), Some(user.id));
            assert!(accounts.redeem_sign_in_link(&token).unwrap().is_none());

            let late = accounts.create_sign_in_link("alice@example.com").unwrap();
            db.execute("UPDATE sign_in_links SET expires_at = '2000-01-01 00:00:00'");
            assert!(accounts.redeem_sign_in_link(&late).unwrap().is_none());
            assert!(accounts.redeem_sign_in_link("made up").unwrap().is_none());
            assert!(matches!(
                accounts.create_sign_in_link("nobody@example.com"),
                Err(StoreError::NotFound(_))
            ));
        }
    }
}
