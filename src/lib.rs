//! stet keeps an archive of news articles and proves what they said.
//!
//! A pure core between two thin shells (see `docs/ARCHITECTURE.md`):
//!
//! - [`config`]: the TOML configuration, validated, with errors that name the line.
//! - [`model`]: ids, hashes and the kinds of check outcome shared by everything else.
//! - [`fetch`]: HTTP with timeouts, size cap, conditional GET; typed transient errors.
//! - [`extract`]: HTML to article (title, byline, paragraphs) without page furniture. Pure.
//! - [`budget`]: what one page may cost to extract; deep and huge pages are `too_complex`. Pure.
//! - [`fingerprint`]: canonical text and SHA-256 content hashes. Pure.
//! - [`classify`]: every rule about edits, deletions and transient faults. Pure.
//! - [`diff`]: paragraph and word differences between versions. Pure.
//! - [`copies`]: copies of an article across sites: sketches, links, clusters, roles. Pure.
//! - [`ledger`]: the hash chain over versions, events and watch changes; its byte encoding. Pure.
//! - [`store`]: SQLite, the only module that runs SQL; one transaction per batch of outcomes.
//! - [`polite`]: global and per-host limits, delays, robots.txt; 429 pauses and slowdowns.
//! - [`feeds`]: RSS, Atom and sitemaps discover article URLs (untrusted input).
//! - [`check`]: one pass: fetch, extract, classify, record, concurrently and politely.
//! - [`clock`]: jumps of the wall clock, noticed against the boot clock. Pure but one read.
//! - [`scheduler`]: when each watch is next due (cron, jitter, backoff, age). Pure.
//! - [`notify`]: alerts: delivering the durable outbox to webhooks, chat, e-mail and programs.
//! - [`merkle`]: the RFC 9162 Merkle tree over the ledger: roots, inclusion and consistency. Pure.
//! - [`note`]: C2SP signed notes with Ed25519 keys (Go's sumdb/note format). Pure.
//! - [`proof`]: checkpoints, C2SP tlog-proofs and `stet proof` files, and checking them. Pure.
//! - [`timestamp`]: RFC 3161 requests and tokens, read without trusting them. Pure.
//! - [`publish`]: signs, stores, timestamps and sends checkpoints to witnesses; on a schedule.
//! - [`secret`]: secrets that never print themselves; URLs with credentials redacted.
//! - [`verify`]: re-computes every stored hash and the ledger chain; names each failing row.
//! - [`warc`]: WARC 1.1 records for stored versions. Pure.
//! - [`daemon`]: the long-running service loop and its shutdown.
//! - [`server`]: the web interface, the JSON API, feeds and Memento over the archive.
//! - [`cli`]: the command line, one module per verb.

pub mod budget;
pub mod check;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod copies;
pub mod daemon;
pub mod diff;
pub mod extract;
pub mod feeds;
pub mod fetch;
pub mod fingerprint;
pub mod ledger;
pub mod merkle;
pub mod model;
pub mod note;
pub mod notify;
pub mod polite;
pub mod proof;
pub mod publish;
pub mod scheduler;
pub mod secret;
pub mod server;
pub mod store;
pub mod timestamp;
pub mod verify;
pub mod warc;
