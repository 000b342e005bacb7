//! stet's integration tests: the real binary against real local servers and a real archive,
//! SQLite by default or PostgreSQL with bodies in S3 (`STET_TEST_BACKEND=postgres`, see
//! `support::backend`).

#[path = "../support/mod.rs"]
mod support;

pub(crate) mod alerts;
mod cli;
mod copies;
mod detection;
mod faults;
mod hostile;
mod ledger;
mod lifecycle;
mod metadata;
mod pipes;
mod politeness;
mod proofs;
mod props;
mod robustness;
mod rules;
mod secrets;
mod service;
mod stability;
mod upgrade;
mod walls;
mod web;
