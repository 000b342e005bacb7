//! Copies of an article across sites: which archived texts hold the same article, in which
//! role, and what each copy did with it.
//!
//! Owns the word shingles of a canonical text, its MinHash sketch and LSH band keys
//! ([`sketch`]), an in-memory candidate index and the containment check that turns a candidate
//! into a link ([`index`]), clusters and roles decided from evidence ([`cluster`]), and the
//! copy-against-original comparison with the stale-copy rules ([`mod@compare`]). Pure: takes texts,
//! sketches and evidence, returns data; it never reads the archive, the network or the clock.
//! The store keeps sketches and band keys beside versions and answers the same lookups.

pub mod cluster;
pub mod compare;
pub mod index;
pub mod sketch;

pub use cluster::{Cluster, Evidence, Link, Member, Role, clusters, credit_line};
pub use compare::{
    Change, CopyDiff, Mark, compare, copy_altered, edited_after_copy, survives_deletion,
};
pub use index::{Candidate, CopyIndex, Overlap, Shingled, Thresholds, verify};
pub use sketch::Sketch;
