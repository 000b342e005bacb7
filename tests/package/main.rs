//! The Debian package, as a user gets it: built by `packaging/build-deb` (cargo-deb) from the
//! binary `cargo test` already built, installed with `dpkg -i` into a fresh root, then used:
//! `stet --version`, `man -l` of its page, the bash completion, `systemd-analyze verify` of its
//! unit, stet inside the root with no flags (the packaged config puts the archive in the
//! unit's StateDirectory), and `dpkg -r` / `dpkg -P`, which must leave that archive in place.
//!
//! Needs root (dpkg runs the maintainer scripts in a chroot), dpkg, man, bash, systemd-analyze
//! and cargo-deb (`.ci/test-deps` installs what is missing). Without them it says what is
//! missing and skips, except under CI (`CI` set), where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout).expect("utf-8 output")
}

fn found(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What this machine lacks to build and install the package, if anything.
fn missing() -> Option<String> {
    let uid = stdout(Command::new("id").arg("-u"));
    if uid.trim() != "0" {
        return Some("root (dpkg installs into a chroot)".into());
    }
    let lacking: Vec<&str> = [
        "dpkg",
        "dpkg-deb",
        "man",
        "bash",
        "systemd-analyze",
        "cargo-deb",
    ]
    .into_iter()
    .filter(|p| !found(p))
    .collect();
    (!lacking.is_empty()).then(|| lacking.join(", "))
}

/// A root that dpkg can install into: its empty database, the shell that runs the maintainer
/// scripts inside the chroot, the libraries it and stet link, and what `systemd-analyze
/// verify` looks for there besides the package (`/bin/kill`, systemd's targets).
fn fresh_root(root: &Path) {
    for dir in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "dev",
        "tmp",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    std::fs::write(root.join("var/lib/dpkg/available"), "").unwrap();
    // The libraries of the shell and of stet, so both run inside the root.
    let ldd = stdout(
        Command::new("ldd")
            .arg("/bin/sh")
            .arg(env!("CARGO_BIN_EXE_stet")),
    );
    let mut libs: Vec<String> = ldd
        .split_whitespace()
        .filter(|w| w.starts_with("/lib") || w.starts_with("/usr/lib"))
        .map(|w| w.trim_end_matches(':').to_string())
        .collect();
    libs.sort();
    libs.dedup();
    // What a base system provides that the unit names: /bin/kill, and systemd's targets.
    let targets = std::fs::read_dir("/usr/lib/systemd/system")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "target"))
        .map(|p| p.display().to_string());
    let programs = ["/bin/sh".to_string(), "/bin/kill".to_string()];
    for file in libs.into_iter().chain(programs).chain(targets) {
        let to = root.join(file.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&file, &to).unwrap_or_else(|e| panic!("copy {file}: {e}"));
    }
}

fn dpkg(root: &Path, args: &[&str]) -> Output {
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        // The fresh root has no libc6 package recorded; the host's libraries serve.
        .arg("--force-depends")
        .args(args))
}

/// Builds the package from the binary this test run built; returns its path.
fn build_deb(out: &Path) -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_stet"));
    let profile_dir = bin.parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "dev",
        other => other,
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    run(Command::new(manifest.join("packaging/build-deb"))
        .current_dir(manifest)
        .env("CARGO_TARGET_DIR", target_dir)
        .args([
            "--no-build",
            "--profile",
            profile,
            "--fast",
            "--quiet",
            "--output",
        ])
        .arg(out));
    let debs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "one package built: {debs:?}");
    debs.into_iter().next().unwrap()
}

#[test]
fn the_debian_package_installs_works_and_removes_keeping_the_archive() {
    if let Some(what) = missing() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the package test needs {what} (.ci/test-deps installs cargo-deb)"
        );
        eprintln!("skipped: the package test needs {what} (.ci/test-deps installs cargo-deb)");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let deb = build_deb(work.path());
    let name = deb.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with(&format!("stet_{}-1_", env!("CARGO_PKG_VERSION"))),
        "{name}"
    );

    // What the package holds, and its maintainer scripts.
    let contents = stdout(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for path in [
        "./usr/bin/stet",
        "./etc/stet/stet.toml",
        "./usr/lib/systemd/system/stet.service",
        "./usr/share/man/man1/stet.1.gz",
        "./usr/share/man/man1/stet-watch-list.1.gz",
        "./usr/share/man/man1/stet-completions.1.gz",
        "./usr/share/bash-completion/completions/stet",
        "./usr/share/zsh/vendor-completions/_stet",
        "./usr/share/fish/vendor_completions.d/stet.fish",
        "./usr/share/doc/stet/copyright",
    ] {
        assert!(
            contents.lines().any(|l| l.ends_with(path)),
            "the package holds {path}:\n{contents}"
        );
    }
    assert!(
        !contents.contains("./var/lib/stet"),
        "the state directory is systemd's to create (DynamicUser), not the package's"
    );
    let control = work.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/stet/stet.toml");
    for script in ["preinst", "postinst", "prerm", "postrm"] {
        let Ok(text) = std::fs::read_to_string(control.join(script)) else {
            continue;
        };
        for never in [
            "adduser",
            "useradd",
            "sysusers",
            "invoke start",
            "helper enable",
        ] {
            let unguarded = text
                .lines()
                .any(|l| l.contains(never) && !l.trim_start().starts_with('#'))
                && !(never == "helper enable" && text.contains("was-enabled"));
            assert!(
                !unguarded,
                "{script} creates no user and starts or enables nothing unless asked ({never}):\n{text}"
            );
        }
    }

    // dpkg -i into a fresh root.
    let root = work.path().join("root");
    fresh_root(&root);
    dpkg(&root, &["-i", deb.to_str().unwrap()]);
    let status = stdout(
        Command::new("dpkg-query")
            .arg(format!(
                "--admindir={}",
                root.join("var/lib/dpkg").display()
            ))
            .args(["-W", "-f=${Status} ${Version}", "stet"]),
    );
    assert!(status.starts_with("install ok installed"), "{status}");

    // stet --version names the version and the commit.
    let installed = root.join("usr/bin/stet");
    let version = stdout(Command::new(&installed).arg("--version"));
    assert!(
        version.starts_with(&format!("stet {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    if let Some(head) = head.ok().filter(|o| o.status.success()) {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert!(
            version.contains(&format!("(commit {head})")),
            "{version} names {head}"
        );
    }

    // The manual page, as man shows it.
    let man = |page: &str| {
        stdout(
            Command::new("man")
                .arg("-l")
                .arg(root.join(format!("usr/share/man/man1/{page}.1.gz")))
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "100")
                .env("LC_ALL", "C.UTF-8"),
        )
    };
    let page = man("stet");
    for needed in [
        "NAME",
        "SYNOPSIS",
        "stet - Keeps an archive",
        "watch",
        "completions",
    ] {
        assert!(page.contains(needed), "stet(1) shows {needed:?}:\n{page}");
    }
    let page = man("stet-watch-list");
    assert!(
        page.contains("--limit") && page.contains("--after"),
        "{page}"
    );

    // The bash completion completes verbs and flags.
    let complete = |line: &str| {
        let script = format!(
            "source {}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
             read -ra COMP_WORDS <<< \"$COMP_LINE\"; \
             [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=(''); \
             COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); \
             _stet stet \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            root.join("usr/share/bash-completion/completions/stet")
                .display()
        );
        stdout(Command::new("bash").args(["-c", &script]))
    };
    let verbs = complete("stet wat");
    assert_eq!(verbs.trim(), "watch", "{verbs}");
    let subverbs = complete("stet watch ");
    for v in ["add", "rm", "list"] {
        assert!(subverbs.lines().any(|l| l == v), "{v} in {subverbs}");
    }
    let flags = complete("stet watch list --li");
    assert_eq!(flags.trim(), "--limit", "{flags}");

    // The installed unit verifies, with the installed binary and config.
    let unit = root.join("usr/lib/systemd/system/stet.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(
        text.contains("ExecStart=/usr/bin/stet --config /etc/stet/stet.toml run"),
        "{text}"
    );
    // MANPATH: verify also runs `man stet` for the unit's Documentation=man:stet(1).
    let verify = Command::new("systemd-analyze")
        .env("MANPATH", root.join("usr/share/man"))
        .arg(format!("--root={}", root.display()))
        .args(["verify", "stet.service"])
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // The packaged config is valid and keeps the archive in the unit's StateDirectory.
    let config = root.join("etc/stet/stet.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("\npath = \"/var/lib/stet/stet.db\"\n"),
        "{text}"
    );
    run(Command::new(&installed)
        .arg("config")
        .arg("check")
        .arg(&config));

    // An archive where the service keeps it (DynamicUser: /var/lib/stet -> private/stet).
    let private = root.join("var/lib/private/stet");
    std::fs::create_dir_all(&private).unwrap();
    std::os::unix::fs::symlink("private/stet", root.join("var/lib/stet")).unwrap();
    let db = root.join("var/lib/stet/stet.db");
    let with_db = |bin: &Path, args: &[&str]| {
        stdout(
            Command::new(bin)
                .arg("--config")
                .arg(&config)
                .arg("--db")
                .arg(&db)
                .args(args)
                .env_remove("STET_DB")
                .env_remove("STET_CONFIG"),
        )
    };
    // Inside the root, as a user of the installed package types it: no --config, no --db.
    let chrooted = |args: &[&str]| {
        stdout(
            Command::new("chroot")
                .arg(&root)
                .arg("/usr/bin/stet")
                .args(args)
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        )
    };
    let first = chrooted(&["check"]);
    assert!(
        first.contains("nothing to check") && first.contains("`stet watch add URL`"),
        "the first run names the command to type: {first}"
    );
    chrooted(&["watch", "add", "https://news.example.org/kept"]);
    assert!(
        private.join("stet.db").exists(),
        "/etc/stet/stet.toml puts the archive in the StateDirectory"
    );

    // dpkg -r removes the program, keeps the conffile and the archive.
    dpkg(&root, &["-r", "stet"]);
    assert!(!installed.exists(), "the binary is removed");
    assert!(!root.join("usr/share/man/man1/stet.1.gz").exists());
    assert!(config.exists(), "remove keeps the conffile");
    assert!(db.exists(), "remove keeps the archive in /var/lib/stet");
    let bin = Path::new(env!("CARGO_BIN_EXE_stet"));
    let list = with_db(bin, &["watch", "list", "--json"]);
    assert!(list.contains("https://news.example.org/kept"), "{list}");

    // Even a purge leaves the archive: it is evidence, not cache.
    dpkg(&root, &["-P", "stet"]);
    assert!(!config.exists(), "purge removes the conffile");
    assert!(db.exists(), "purge keeps the archive");
}
