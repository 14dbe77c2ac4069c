//! Shared pieces of teaminbox's benchmarks (`tests/bench/run`): the message
//! corpus, statistics, and a description of the machine.
//!
//! std only, so that the workspace's normal build does not depend on
//! anything here; the driver (`examples/driver.rs`) and the Criterion
//! micro-benchmarks (`benches/micro.rs`) use it with the milter's test
//! helpers.

pub mod corpus;
pub mod stats;
pub mod system;

/// The hosted domain of every benchmark.
pub const HOSTED: &str = "inbox.example.com";
/// The sending domain whose mail passes SPF, DKIM and DMARC.
pub const SENDER_DOMAIN: &str = "example.org";
/// A domain with `p=reject` and an SPF record that allows nobody: unsigned
/// mail from it must be refused (the negative control).
pub const FORGED_DOMAIN: &str = "example.net";
/// The envelope sender of the signed benchmark messages.
pub const SENDER: &str = "alice@example.org";
/// The hosted recipient of the SMTP benchmarks.
pub const RECIPIENT: &str = "support@inbox.example.com";
/// The DKIM selector of [`SENDER_DOMAIN`].
pub const SELECTOR: &str = "bench";
/// HELO name of the benchmark clients.
pub const HELO: &str = "client.example.org";
