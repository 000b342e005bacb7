//! Records the commit the binary is built from, for `stet --version`.
//!
//! `STET_COMMIT` in the environment wins (a build from a source tarball can name its commit);
//! otherwise `git rev-parse` of the source tree; without git (or outside a repository) the
//! version names no commit. Never fails the build. Sets `STET_VERSION`, e.g.
//! `0.1.0 (commit 1a2b3c4d5e6f)`.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=STET_COMMIT");
    let commit = std::env::var("STET_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit);
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let line = match commit {
        Some(commit) => format!("{version} (commit {})", commit.trim()),
        None => version,
    };
    // What `stet --version` prints after the name.
    println!("cargo:rustc-env=STET_VERSION={line}");
}

/// The short hash of HEAD, and the files to watch so a new commit rebuilds with its hash.
fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    // HEAD names the branch; the branch's ref (or packed-refs) moves with each commit.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])?];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.extend(git(&["rev-parse", "--git-path", &branch]));
    }
    watched.extend(git(&["rev-parse", "--git-path", "packed-refs"]));
    for path in watched {
        // A path that does not exist would make cargo rerun this script on every build.
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    Some(commit)
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}
