//! The application: the work stet does, put together from the layers below (core, network,
//! store, alerts). The faces (`cli`, `server`) call into it; it never calls them.
//!
//! - [`check`]: one pass: fetch, extract, classify, record, concurrently and politely.
//! - [`daemon`]: the long-running service loop and its shutdown.
//! - [`verify`]: re-computes every stored hash and the ledger chain; names each failing row.
//! - [`publish`]: signs, stores, timestamps and sends checkpoints to witnesses; on a schedule.

pub mod check;
pub mod daemon;
pub mod publish;
pub mod verify;
