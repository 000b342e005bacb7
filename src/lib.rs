//! stet keeps an archive of news articles and proves what they said.
//!
//! A pure core between two thin shells (see `docs/ARCHITECTURE.md`):
//!
//! - [`config`]: the TOML configuration, validated, with errors that name the line.
//! - [`model`]: ids, hashes and the kinds of check outcome shared by everything else.
//! - [`fetch`]: HTTP with timeouts, size cap, conditional GET; typed transient errors.
//! - [`extract`]: HTML to article (title, byline, paragraphs) without page furniture. Pure.
//! - [`fingerprint`]: canonical text and SHA-256 content hashes. Pure.
//! - [`classify`]: every rule about edits, deletions and transient faults. Pure.
//! - [`diff`]: paragraph and word differences between versions. Pure.
//! - [`ledger`]: the hash chain over versions, events and watch changes; its byte encoding. Pure.
//! - [`store`]: SQLite, the only module that runs SQL; one transaction per batch of outcomes.
//! - [`polite`]: global and per-host limits, delays, robots.txt; 429 pauses and slowdowns.
//! - [`feeds`]: RSS, Atom and sitemaps discover article URLs (untrusted input).
//! - [`check`]: one pass: fetch, extract, classify, record, concurrently and politely.
//! - [`scheduler`]: when each watch is next due (cron, jitter, backoff, age). Pure.
//! - [`notify`]: alerts: delivering the durable outbox to webhooks, chat, e-mail and programs.
//! - [`verify`]: re-computes every stored hash and the ledger chain; names each failing row.
//! - [`warc`]: WARC 1.1 records for stored versions. Pure.
//! - [`daemon`]: the long-running service loop and its shutdown.
//! - [`cli`]: the command line, one module per verb.

pub mod check;
pub mod classify;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod diff;
pub mod extract;
pub mod feeds;
pub mod fetch;
pub mod fingerprint;
pub mod ledger;
pub mod model;
pub mod notify;
pub mod polite;
pub mod scheduler;
pub mod store;
pub mod verify;
pub mod warc;
