//! An archive built by real checks of a local site (edits, a deletion, a restoration), the real
//! `stet serve` over it, and a small HTTP/1.1 client. Shared by the web tests and the browser
//! test target.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::site::{Route, Site};

pub const BRIDGE_V1: &[&str] = &[
    "The city council voted on Tuesday to close the harbour bridge for six weeks of repairs to its corroded cables.",
    "About 40,000 vehicles cross the bridge every day, and buses will be diverted through the eastern tunnel.",
    "Local businesses said they had been given only four days of notice and warned of lost trade in the busy season.",
    "The works are paid for by the regional transport fund.",
];

/// The changed word of the first edit: `six` became `eight`.
pub const REMOVED_WORD: &str = "six";
pub const ADDED_WORD: &str = "eight";
/// The sentence the second edit removed.
pub const REMOVED_SENTENCE: &str = "only four days of notice";

pub fn page(title: &str, byline: &str, paragraphs: &[&str]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><title>{title}</title>\
         <meta name=\"author\" content=\"{byline}\"></head><body>\
         <nav><a href=\"/\">Home</a></nav><article><h1>{title}</h1>\
         <p class=\"byline\">By {byline}</p>\n{body}</article>\
         <footer>Footer</footer></body></html>"
    )
}

/// A page whose script tries to escape its sandbox: it writes a cookie, calls stet's API
/// and navigates the top window, and records each attempt's outcome in its title.
pub fn hostile_page() -> String {
    let paras = [
        "This page carries a script that tries to reach the archive that stored it.",
        "Archived pages must never run in the archive's own origin, or a hostile page could act for its reader.",
        "The sandbox keeps the script from running at all, so none of its attempts happen.",
    ];
    let body: String = paras.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!doctype html><html><head><title>Hostile page</title></head><body><article>\
         <h1>Hostile page</h1>\n{body}</article>\
         <script>\
         document.title = 'script ran';\
         try {{ document.cookie = 'stolen=1; path=/'; }} catch (e) {{}}\
         try {{ fetch('/api/v1/watches', {{method: 'POST', headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{url: 'http://evil.example/x'}})}}); }} catch (e) {{}}\
         try {{ window.top.location = '/?escaped=1'; }} catch (e) {{}}\
         </script></body></html>"
    )
}

fn harbour_page() -> Route {
    Route::html(page(
        "Harbour ferry returns",
        "Ben Writer",
        &[
            "The harbour ferry will run again from Monday after a winter of repairs to its engines.",
            "Tickets cost the same as last year, and the first crossing leaves at seven in the morning.",
            "The operator said the timetable would be published on its website on Friday.",
        ],
    ))
}

pub struct Urls {
    pub bridge: String,
    pub harbour: String,
    pub market: String,
    pub hostile: String,
}

/// A temp dir with a config and an archive, and the site it was built from.
pub struct Archive {
    pub dir: tempfile::TempDir,
    pub site: Site,
    pub urls: Urls,
}

impl Archive {
    /// Checks a local site into a new archive: the bridge article edited twice (a word, then a
    /// sentence removed, one second apart so the versions have distinct capture seconds), the
    /// harbour article deleted and restored, the market article captured once, and a page
    /// with a hostile script. `server` is appended to the config.
    pub fn build(server: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let site = Site::start();
        let config = format!(
            "[storage]\npath = \"{}\"\n\n[fetch]\ntimeout_secs = 5\n\n[politeness]\nmin_delay = \"0s\"\n\n{server}\n",
            dir.path().join("stet.db").display()
        );
        std::fs::write(dir.path().join("stet.toml"), config).unwrap();
        let urls = Urls {
            bridge: site.url("/news/2026/bridge-to-close"),
            harbour: site.url("/news/2026/harbour-ferry"),
            market: site.url("/news/2026/market-hall"),
            hostile: site.url("/news/2026/hostile"),
        };
        let archive = Self { dir, site, urls };
        let a = &archive;
        a.site.set(
            "/news/2026/bridge-to-close",
            Route::html(page(
                "Bridge to close for repairs",
                "Ana Reporter",
                BRIDGE_V1,
            )),
        );
        a.site.set("/news/2026/harbour-ferry", harbour_page());
        a.site.set(
            "/news/2026/market-hall",
            Route::html(page(
                "Market hall opens",
                "Cy Editor",
                &[
                    "The new market hall opened on Saturday with forty stalls selling food from the region.",
                    "Traders said the first day brought more visitors than they had expected for the season.",
                    "The hall is open six days a week and closed on Mondays for cleaning.",
                ],
            )),
        );
        a.site
            .set("/news/2026/hostile", Route::html(hostile_page()));
        a.ok(&[
            "watch",
            "add",
            &a.urls.bridge,
            &a.urls.harbour,
            &a.urls.market,
            &a.urls.hostile,
        ]);
        a.ok(&["check"]);
        std::thread::sleep(Duration::from_millis(1100));
        // A changed word.
        let v2: Vec<String> = BRIDGE_V1
            .iter()
            .map(|p| p.replace("six weeks", "eight weeks"))
            .collect();
        let v2: Vec<&str> = v2.iter().map(String::as_str).collect();
        a.site.set(
            "/news/2026/bridge-to-close",
            Route::html(page("Bridge to close for repairs", "Ana Reporter", &v2)),
        );
        a.ok(&["check", &a.urls.bridge]);
        std::thread::sleep(Duration::from_millis(1100));
        // A removed sentence and a new headline.
        let v3: Vec<&str> = v2
            .iter()
            .copied()
            .filter(|p| !p.contains(REMOVED_SENTENCE))
            .collect();
        a.site.set(
            "/news/2026/bridge-to-close",
            Route::html(page("Bridge closure delayed", "Ana Reporter", &v3)),
        );
        a.ok(&["check", &a.urls.bridge]);
        // A deletion (two gone checks) and a restoration.
        let harbour = "/news/2026/harbour-ferry";
        let live = harbour_page();
        a.site
            .set(harbour, Route::status(404, "<h1>Not found</h1>"));
        a.ok(&["check", &a.urls.harbour]);
        a.ok(&["check", &a.urls.harbour]);
        a.site.set(harbour, live);
        a.ok(&["check", &a.urls.harbour]);
        archive
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("stet.toml")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("stet.db")
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stet"));
        cmd.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.config_path())
            .env_remove("STET_DB")
            .env_remove("STET_CONFIG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run stet")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "stet {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts `stet serve` on a free loopback port (plus `args`) and waits until it answers.
    pub fn serve(&self, args: &[&str]) -> Served {
        let mut cmd = self.command();
        cmd.arg("serve")
            .args(if args.contains(&"--listen") {
                vec![]
            } else {
                vec!["--listen", "127.0.0.1:0"]
            })
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start stet serve");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let Some(url) = line
            .split(" at ")
            .nth(1)
            .map(|u| u.trim().trim_end_matches('/').to_string())
        else {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            let _ = child.wait();
            panic!("stet serve did not start: {line:?}\n{err}");
        };
        Served { child, base: url }
    }
}

/// A running `stet serve`, stopped when dropped.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Served {
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    pub fn get(&self, path: &str) -> Resp {
        request(&self.addr(), "GET", path, &[], b"")
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        request(&self.addr(), method, path, headers, body)
    }

    /// Stops the server (SIGTERM) and returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response as a test reads it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP/1.1 request on its own connection.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut stream = TcpStream::connect(addr).expect("connect to stet serve");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..end])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}
