//! stet keeps an archive of news articles and proves what they said.
//!
//! A pure core between two thin shells, in layers; a module imports only from its own layer and
//! the layers below it (see `docs/ARCHITECTURE.md`). Top to bottom:
//!
//! - faces: [`cli`], the command line, one module per verb; [`server`], the web interface, the
//!   JSON API, feeds and Memento over the archive.
//! - [`app`], the application: a check pass, the daemon, verification, checkpoint publishing.
//! - [`notify`], alerts: delivering the durable outbox to webhooks, chat, e-mail and programs.
//! - [`store`]: SQLite or PostgreSQL, the only module that runs SQL; one transaction per batch of
//!   outcomes.
//! - [`net`], the network: fetching, politeness, feed discovery.
//! - [`pure`], the pure core: model, extraction, fingerprints, classification, diffs, the ledger
//!   and its proofs, schedules. No I/O.
//! - [`config`]: the TOML configuration, validated, with errors that name the line.

pub mod app;
pub mod cli;
pub mod config;
pub mod net;
pub mod notify;
pub mod pure;
pub mod server;
pub mod store;
