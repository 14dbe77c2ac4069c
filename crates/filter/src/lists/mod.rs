//! The allow and deny lists, as the milter applies them once per message.
//!
//! An admin lists a sender address (`user@example.com`), a sender domain
//! (`example.com`) or a client IP address or network (`192.0.2.7`,
//! `192.0.2.0/24`, `2001:db8::/32`) on the allow or the deny list
//! (`teaminbox-admin filter add`). Here those entries are parsed into
//! [`FilterValue`]s, gathered into a [`FilterSet`] that answers in a few hash
//! lookups, and kept in a [`FilterCache`] that reloads them from the store at
//! most every [`FILTER_CACHE_TTL`], so a change takes effect within seconds
//! without a database read per message.
//!
//! Matching:
//! - an **address** entry matches the envelope sender or the address of the
//!   From header, ignoring case;
//! - a **domain** entry matches the domain of the envelope sender or of the
//!   From header, **and every subdomain of it**: `example.com` matches
//!   `alice@example.com` and `bob@mail.example.com`, not
//!   `carol@notexample.com`; on the allow list it also matches the `d=`
//!   domain of a DKIM signature that verified (and its subdomains);
//! - an **ip** entry matches the SMTP client's address (an IPv4 client seen
//!   as an IPv4-mapped IPv6 address counts as IPv4).
//!
//! The deny list is consulted before the checks and matches the senders as
//! the message claims them; it wins over the allow list. The allow list is
//! consulted after the checks, and its address and domain entries match
//! only what they authenticated (see [`Authenticated`]): anyone can write
//! any sender into a message, so a claimed sender must never lift a
//! refusal.

mod cache;
mod matching;

pub use cache::{FilterCache, FILTER_CACHE_TTL};

pub use matching::{AllowMatch, Authenticated, FilterSet};
