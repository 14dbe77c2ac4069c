//! teaminbox-telemetry: what the daemon tells the people who run it.
//! Metrics (`metrics`: counted by every stage, served to Prometheus by the
//! daemon) and the log (`logging`: its format, and the spans that give
//! every line about a message the MTA's queue id and ours).

pub mod logging;
pub mod metrics;
