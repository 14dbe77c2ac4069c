//! The test kit of teaminbox's tests, used by tests only.
//!
//! - Throwaway databases (re-exported from `teaminbox_store::testing`):
//!   every store test runs on SQLite and on PostgreSQL
//!   ([`both_databases!`]).
//! - [`dns`]: a real DNS server on 127.0.0.1 serving generated records;
//!   [`dkim`]: messages signed and verified by a third party (dkimpy).
//! - [`daemon`]: the real daemon, in-process; [`cli`]: the binaries as a
//!   user runs them; [`log`]: what the daemon logged.

pub mod cli;
pub mod daemon;
pub mod dkim;
pub mod dns;
pub mod log;

pub use teaminbox_store::both_databases;
pub use teaminbox_store::testing::*;
