//! Throwaway PostgreSQL clusters and SeaweedFS S3 servers for the tests and benchmarks, on
//! 127.0.0.1 with free ports: Debian's PostgreSQL server (`initdb` + `pg_ctl` in a temp dir; when
//! run as root the cluster belongs to the `postgres` user, since the server refuses to run as
//! root) and SeaweedFS's `weed server -s3`. Each is watched by a small shell that stops it and
//! removes its directory when its owner drops it or the test process ends, however it ends, so a
//! cluster shared by a whole test process (`shared`) is stopped at exit too. It never touches a
//! server it did not start.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

use super::http::try_request;
use super::wait_until;

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The directory of PostgreSQL's server programs.
fn pg_bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .filter(|d| d.join("initdb").exists())
        .expect("PostgreSQL's initdb is not installed: run .ci/test-deps")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A shell that waits for its stdin to close (its owner dropped it, or the process that
/// started it ended), then runs `stop` and removes `dir`. In its own process group, so a
/// Ctrl-C meant for the tests does not kill it before it has cleaned up.
fn watchdog(stop: &str, dir: &Path) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "read line; {stop} >/dev/null 2>&1; rm -rf \"$DIR\""
        ))
        .env("DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start a shell")
}

/// Closes the watchdog's stdin and waits until it has stopped its server.
fn release(watchdog: &mut Child) {
    drop(watchdog.stdin.take());
    let _ = watchdog.wait();
}

/// A throwaway PostgreSQL cluster: its own data directory and port, stopped when dropped.
pub struct Postgres {
    watchdog: Child,
    pub port: u16,
    databases: AtomicUsize,
}

impl Postgres {
    pub fn start() -> Self {
        let bindir = pg_bindir();
        let dir = tempfile::Builder::new()
            .prefix("stet-pg")
            .tempdir_in("/tmp")
            .unwrap()
            .keep();
        let root = is_root();
        let as_owner = if root { "runuser -u postgres -- " } else { "" };
        let data = dir.join("data");
        let stop = format!(
            "{as_owner}'{}' -D '{}' -m immediate stop",
            bindir.join("pg_ctl").display(),
            data.display()
        );
        let watchdog = watchdog(&stop, &dir);
        if root {
            // The server refuses to run as root: the cluster belongs to the postgres user.
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot give the cluster directory to the postgres user");
        }
        let port = free_port();
        let run = |program: &str, args: &[&str]| -> Output {
            let mut cmd = if root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bindir.join(program));
                c
            } else {
                Command::new(bindir.join(program))
            };
            cmd.args(args)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("{program}: {e}"))
        };
        let out = run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "stet",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            dir.display()
        );
        let log = dir.join("server.log");
        let out = run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Self {
            watchdog,
            port,
            databases: AtomicUsize::new(0),
        }
    }

    /// A new, empty database; returns its URL.
    pub fn database(&self, name: &str) -> String {
        let mut c = self.client("postgres");
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url(name)
    }

    /// A new, empty database with a name no other test of this cluster has; returns the name.
    pub fn fresh_database(&self) -> String {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::Relaxed));
        self.database(&name);
        name
    }

    pub fn url(&self, name: &str) -> String {
        format!("postgresql://stet@127.0.0.1:{}/{name}", self.port)
    }

    pub fn client(&self, name: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(name), postgres::NoTls).expect("connect")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        release(&mut self.watchdog);
    }
}

/// One SeaweedFS starting at a time: two started at once by parallel tests sometimes never made
/// their bucket within two minutes on a 2-core machine. Held while a server started by
/// `S3::start` lives.
static S3_BUSY: Mutex<bool> = Mutex::new(false);
static S3_FREE: Condvar = Condvar::new();

struct Turn;

impl Turn {
    fn take() -> Self {
        let mut busy = S3_BUSY.lock().unwrap_or_else(|e| e.into_inner());
        while *busy {
            busy = S3_FREE.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        *busy = true;
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        *S3_BUSY.lock().unwrap_or_else(|e| e.into_inner()) = false;
        S3_FREE.notify_one();
    }
}

/// A SeaweedFS server with its S3 gateway on 127.0.0.1, one bucket made; stopped when dropped.
pub struct S3 {
    _turn: Option<Turn>,
    watchdog: Child,
    pub port: u16,
    pub bucket: String,
}

impl S3 {
    /// A server of its own, the only one starting or running in this process while it lives.
    pub fn start() -> Self {
        let turn = Turn::take();
        let mut s3 = Self::launch();
        s3._turn = Some(turn);
        s3
    }

    fn launch() -> Self {
        let dir = tempfile::tempdir().unwrap().keep();
        let port = free_port();
        let p = || free_port().to_string();
        let args = [
            "server".to_string(),
            format!("-dir={}", dir.display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            "-s3".into(),
            format!("-s3.port={port}"),
            format!("-s3.port.grpc={}", p()),
            format!("-master.port={}", p()),
            format!("-master.port.grpc={}", p()),
            format!("-volume.port={}", p()),
            format!("-volume.port.grpc={}", p()),
            format!("-filer.port={}", p()),
            format!("-filer.port.grpc={}", p()),
            "-master.volumeSizeLimitMB=64".into(),
            "-volume.max=8".into(),
        ];
        assert!(
            Command::new("sh")
                .args(["-c", "command -v weed"])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            "SeaweedFS (weed) is not installed: run .ci/test-deps"
        );
        // The shell starts weed in the background and, when its stdin closes, stops it.
        let watchdog = Command::new("sh")
            .arg("-c")
            .arg("weed \"$@\" & pid=$!; read line; kill -KILL $pid; wait $pid; rm -rf \"$DIR\"")
            .arg("sh")
            .args(&args)
            .env("DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start a shell");
        let s3 = Self {
            _turn: None,
            watchdog,
            port,
            bucket: "archive".into(),
        };
        let status = |method: &str, path: &str, body: &[u8]| {
            try_request(&s3.addr(), method, path, &[], body).map(|r| r.status)
        };
        wait_until(120, "the S3 gateway to make a bucket", || {
            status("PUT", "/archive", b"") == Some(200)
        });
        // The bucket exists before a volume takes data: wait until an object is stored.
        wait_until(120, "the S3 gateway to store an object", || {
            status("PUT", "/archive/ready", b"ready") == Some(200)
        });
        s3
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// How many objects are under `prefix` in the bucket.
    pub fn objects(&self, prefix: &str) -> usize {
        try_request(
            &self.addr(),
            "GET",
            &format!("/{}?list-type=2&prefix={prefix}", self.bucket),
            &[],
            b"",
        )
        .map_or(0, |r| r.text().matches("<Key>").count())
    }

    /// Stores `body` as the object `key` of the bucket; returns the status.
    pub fn put(&self, key: &str, body: &[u8]) -> Option<u16> {
        try_request(
            &self.addr(),
            "PUT",
            &format!("/{}/{key}", self.bucket),
            &[],
            body,
        )
        .map(|r| r.status)
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        release(&mut self.watchdog);
    }
}

/// The PostgreSQL cluster and S3 server a whole test process shares: started by the first test
/// that asks, stopped when the process ends. Each `Stet` takes its own database and prefix.
pub struct Shared {
    pub pg: Postgres,
    pub s3: S3,
}

pub fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| Shared {
        pg: Postgres::start(),
        s3: S3::launch(),
    })
}
