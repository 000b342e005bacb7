//! The network: what talks HTTP to the sites being watched.
//!
//! - [`fetch`]: HTTP with timeouts, size cap, conditional GET; typed transient errors.
//! - [`polite`]: global and per-host limits, delays, robots.txt; 429 pauses and slowdowns.
//! - [`feeds`]: RSS, Atom and sitemaps discover article URLs (untrusted input).

pub mod feeds;
pub mod fetch;
pub mod polite;
