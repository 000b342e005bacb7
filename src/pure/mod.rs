//! The pure core: data in, data out. Nothing here opens a socket, a file or a database; the only
//! reads of the outside world are the clocks (`model::now_rfc3339`, `clock`). Modules here import
//! only each other.
//!
//! - [`model`]: ids, hashes and the kinds of check outcome shared by everything else.
//! - [`extract`]: HTML to article (title, byline, paragraphs) without page furniture.
//! - [`budget`]: what one page may cost to extract; deep and huge pages are `too_complex`.
//! - [`fingerprint`]: canonical text and SHA-256 content hashes.
//! - [`wall`]: paywall, registration and consent walls read from the page itself.
//! - [`classify`]: every rule about edits, deletions and transient faults.
//! - [`diff`]: paragraph and word differences between versions.
//! - [`copies`]: copies of an article across sites: sketches, links, clusters, roles, stale copies.
//! - [`ledger`]: the hash chain over versions, events and watch changes; its byte encoding.
//! - [`alert`]: which sink wants which event, and the idempotency key of an alert.
//! - [`merkle`]: the RFC 9162 Merkle tree over the ledger: roots, inclusion and consistency.
//! - [`note`]: C2SP signed notes with Ed25519 keys (Go's sumdb/note format).
//! - [`proof`]: checkpoints, C2SP tlog-proofs and `stet proof` files, and checking them.
//! - [`timestamp`]: RFC 3161 requests and tokens, read without trusting them.
//! - [`warc`]: WARC 1.1 records for stored versions.
//! - [`scheduler`]: when each watch is next due (cron, jitter, backoff, age).
//! - [`secret`]: secrets that never print themselves; URLs with credentials redacted.
//! - [`clock`]: jumps of the wall clock, noticed against the boot clock. Pure but one read.

pub mod alert;
pub mod budget;
pub mod classify;
pub mod clock;
pub mod copies;
pub mod diff;
pub mod extract;
pub mod fingerprint;
pub mod ledger;
pub mod merkle;
pub mod model;
pub mod note;
pub mod proof;
pub mod scheduler;
pub mod secret;
pub mod timestamp;
pub mod wall;
pub mod warc;
