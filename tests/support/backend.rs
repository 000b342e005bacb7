//! The backend switch: `STET_TEST_BACKEND` (`sqlite`, the default, or `postgres`) names the
//! archive every `Stet::new` of the run uses. Tests that only make sense on one backend say so
//! with `sqlite_only` or `postgres_only`; a test that fails on PostgreSQL for a known difference
//! between the backends is listed in `KNOWN_POSTGRES_FAILURES` with the reason, and says so when
//! it runs there. It never decides anything about what a test checks.

use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// PostgreSQL with body chunks in S3 (SeaweedFS).
    Postgres,
}

/// The backend of this run, from `STET_TEST_BACKEND`; an unknown name stops the run.
pub fn current() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(|| match std::env::var("STET_TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
        Ok("postgres") | Ok("postgresql") => Backend::Postgres,
        Ok(other) => panic!("STET_TEST_BACKEND={other:?}: expected sqlite or postgres"),
    })
}

/// The name of the running test (libtest names its thread after it).
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("?")
        .rsplit("::")
        .next()
        .unwrap_or("?")
        .to_string()
}

/// True when this run is not on SQLite: the test that asks only makes sense there (`why`),
/// says so on stderr and returns.
pub fn sqlite_only(why: &str) -> bool {
    let other = current() != Backend::Sqlite;
    if other {
        eprintln!(
            "{}: SQLite only, skipped on {:?}: {why}",
            test_name(),
            current()
        );
    }
    other
}

/// True when this run is not on PostgreSQL: the test that asks only makes sense there.
pub fn postgres_only(why: &str) -> bool {
    let other = current() != Backend::Postgres;
    if other {
        eprintln!(
            "{}: PostgreSQL only, skipped on {:?}: {why}",
            test_name(),
            current()
        );
    }
    other
}

/// The tests of tests/it that fail on PostgreSQL + S3 for a difference between the backends
/// that is not fixed yet: (test function, the difference). Each of them calls
/// `known_postgres_failure()` first.
pub const KNOWN_POSTGRES_FAILURES: &[(&str, &str)] = &[];

/// True when this run is on PostgreSQL and the running test is a known failure there: it says
/// so on stderr, with the reason, and returns. A test that calls this without being listed
/// fails, so the list stays the one place that names them.
pub fn known_postgres_failure() -> bool {
    let name = test_name();
    let Some((_, why)) = KNOWN_POSTGRES_FAILURES.iter().find(|(n, _)| *n == name) else {
        panic!("{name} calls known_postgres_failure() but is not in KNOWN_POSTGRES_FAILURES");
    };
    let known = current() == Backend::Postgres;
    if known {
        eprintln!("{name}: KNOWN POSTGRESQL FAILURE, not run: {why}");
    }
    known
}
