//! Alerts end to end: the real binary, real receivers on 127.0.0.1 (an HTTP webhook receiver
//! written here, a real SMTP server, a real program), and the durable outbox across a SIGKILL.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, Storage, article_page, kind};

/// One request the receiver read, and what it answered (`None`: held, then dropped).
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
    status: Option<u16>,
}

impl Received {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn key(&self) -> String {
        self.headers
            .get("idempotency-key")
            .cloned()
            .expect("an Idempotency-Key header")
    }
}

/// A webhook receiver: answers 503 to its first `fail_first` requests, and, while `hold` is
/// set, reads a request and never answers it.
pub(crate) struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    hold: Arc<AtomicBool>,
}

impl Receiver {
    pub(crate) fn start(fail_first: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicUsize::new(fail_first));
        let hold = Arc::new(AtomicBool::new(false));
        let (r, f, h) = (received.clone(), fail.clone(), hold.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, f, h) = (r.clone(), f.clone(), h.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &r, &f, &h);
                });
            }
        });
        Self {
            addr,
            received,
            hold,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The requests answered 200: the alerts that arrived.
    pub(crate) fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.status == Some(200))
            .collect()
    }
}

fn serve(
    stream: TcpStream,
    received: &Mutex<Vec<Received>>,
    fail_first: &AtomicUsize,
    hold: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let held = hold.load(Ordering::SeqCst);
    let status = if held {
        None
    } else if fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        Some(503)
    } else {
        Some(200)
    };
    received.lock().unwrap().push(Received {
        headers,
        body,
        status,
    });
    let Some(status) = status else {
        // Hold the request unanswered until released (the sender is killed meanwhile).
        while hold.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        return Ok(());
    };
    let (reason, text) = if status == 200 {
        ("OK", "ok")
    } else {
        ("Service Unavailable", "try later")
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    stream.flush()
}

/// Polls `cond` every 100 ms until it holds or `secs` pass.
fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn alerts_list(stet: &Stet) -> Value {
    serde_json::from_str(&stet.ok(&["alerts", "list", "--json"])).unwrap()
}

fn statuses(list: &Value) -> Vec<String> {
    list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn webhook_sink(url: &str, extra: &str) -> String {
    format!("[[alert]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\n{extra}\n")
}

const BRIDGE: &str = "Bridge to close";

/// The article, with its second paragraph's "40,000" changed to `vehicles`.
fn page(vehicles: &str) -> String {
    let second = PARAS[1].replace("40,000", vehicles);
    article_page(BRIDGE, &[PARAS[0], &second, PARAS[2]])
}

#[test]
fn a_webhook_that_fails_three_times_gets_every_alert_exactly_once_and_signed() {
    let receiver = Receiver::start(3);
    let site = Site::start();
    let secret = "s3cret-for-signing";
    let stet = Stet::new(
        "",
        &webhook_sink(
            &receiver.url(),
            &format!("secret = \"{secret}\"\nbackoff_secs = 0\nmax_attempts = 10"),
        ),
    );
    let urls = [site.url("/news/bridge"), site.url("/news/tunnel")];
    site.set("/news/bridge", Route::html(page("40,000")));
    site.set("/news/tunnel", Route::html(page("40,000")));
    stet.check(&[&urls[0], &urls[1]]);
    assert!(
        receiver.received().is_empty(),
        "a first capture is not alerted by default"
    );

    site.set("/news/bridge", Route::html(page("25,000")));
    site.set("/news/tunnel", Route::html(page("90,000")));
    let reports = stet.check(&[]);
    assert!(reports.iter().all(|r| kind(r) == "edited"), "{reports:?}");
    // The pass delivered what it could; each later round retries (backoff 0 here).
    for _ in 0..6 {
        if !statuses(&alerts_list(&stet)).iter().any(|s| s == "pending") {
            break;
        }
        stet.ok(&["alerts", "deliver"]);
    }

    let all = receiver.received();
    assert_eq!(all.iter().filter(|r| r.status == Some(503)).count(), 3);
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 2, "two edits, two alerts: {accepted:?}");
    let mut keys: Vec<String> = accepted.iter().map(Received::key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 2, "each alert arrives exactly once per key");
    for r in &all {
        assert!(
            keys.contains(&r.key()),
            "a retry repeats the key of its alert"
        );
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&r.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(r.headers.get("x-stet-signature"), Some(&expected));
    }
    let by_url: HashMap<String, Value> = accepted
        .iter()
        .map(|r| {
            let j = r.json();
            (j["url"].as_str().unwrap().to_string(), j)
        })
        .collect();
    let bridge = &by_url[&urls[0]];
    assert_eq!(bridge["schema"], "stet.alert.v1");
    assert_eq!(bridge["event"], "edited");
    assert_eq!(bridge["title"], BRIDGE);
    assert_eq!(bridge["versions"]["from"], 1);
    assert_eq!(bridge["versions"]["to"], 2);
    let captured = |seq: i64| {
        let versions: Value =
            serde_json::from_str(&stet.ok(&["history", &urls[0], "--json"])).unwrap();
        versions["versions"][seq as usize - 1]["captured_at"].clone()
    };
    assert_eq!(bridge["versions"]["from_captured_at"], captured(1));
    assert_eq!(bridge["versions"]["to_captured_at"], captured(2));
    assert_eq!(bridge["significance"], "substantive");
    let marked: Vec<&str> = bridge["excerpt"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["marked"].as_str().unwrap())
        .collect();
    assert!(
        marked
            .iter()
            .any(|l| l.contains("About [-40,000-] vehicles")),
        "{marked:?}"
    );
    assert!(
        marked
            .iter()
            .any(|l| l.contains("About {+25,000+} vehicles")),
        "{marked:?}"
    );
    assert_eq!(
        bridge["command"],
        format!("stet diff {} --from 1 --to 2", urls[0])
    );
    assert!(by_url[&urls[1]]["excerpt"].to_string().contains("90,000"));

    let list = alerts_list(&stet);
    assert_eq!(statuses(&list), ["sent", "sent"]);
    let attempts: Vec<i64> = list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attempts"].as_i64().unwrap())
        .collect();
    assert_eq!(
        attempts.iter().sum::<i64>(),
        5,
        "3 failures and 2 deliveries"
    );

    // Nothing changed: nothing more is sent.
    stet.check(&[]);
    stet.ok(&["alerts", "deliver"]);
    assert_eq!(receiver.accepted().len(), 2);
}

#[test]
fn an_article_flip_flopping_between_two_texts_is_alerted_once_per_change() {
    let receiver = Receiver::start(0);
    let site = Site::start();
    let stet = Stet::new("", &webhook_sink(&receiver.url(), ""));
    let url = site.url("/news/ab");
    site.set("/news/ab", Route::html(page("40,000")));
    stet.check_one(&url);
    for round in 0..3 {
        site.set("/news/ab", Route::html(page("25,000")));
        assert_eq!(kind(&stet.check_one(&url)), "edited", "round {round}");
        site.set("/news/ab", Route::html(page("40,000")));
        assert_eq!(kind(&stet.check_one(&url)), "edited", "round {round}");
    }
    let events: Vec<(Value, Value)> = receiver
        .accepted()
        .iter()
        .map(|r| {
            let j = r.json();
            (j["versions"]["from"].clone(), j["versions"]["to"].clone())
        })
        .collect();
    assert_eq!(
        events,
        [(1.into(), 2.into()), (2.into(), 3.into())],
        "the edit and its reversal, then no repeats"
    );
    let list = alerts_list(&stet);
    let st = statuses(&list);
    assert_eq!(st.iter().filter(|s| *s == "sent").count(), 2, "{st:?}");
    assert_eq!(
        st.iter().filter(|s| *s == "suppressed").count(),
        4,
        "{st:?}"
    );
}

/// A real SMTP server (aiosmtpd) on 127.0.0.1 that saves each message, decoded, as JSON.
/// Clients log in as "stet" with "mail-secret".
struct SmtpServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = crate::support::checker("smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(dir.path())
            .args(["stet", "mail-secret"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the SMTP test needs python3 with aiosmtpd (`python3 -m pip install aiosmtpd`, as .ci/test-deps does)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Ok(port) = line.trim().parse() else {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            let _ = child.kill();
            panic!(
                "the SMTP test server did not start: it needs python3 with aiosmtpd \
                 (`python3 -m pip install aiosmtpd`, as .ci/test-deps does)\n{err}"
            );
        };
        Self { child, port, dir }
    }

    fn messages(&self) -> Vec<Value> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn email_sink(name: &str, port: u16, password: &str) -> String {
    format!(
        "[[alert]]\nname = \"{name}\"\nkind = \"email\"\nsmtp_host = \"127.0.0.1\"\n\
         smtp_port = {port}\nsmtp_tls = \"none\"\nusername = \"stet\"\n\
         password = \"{password}\"\nfrom = \"stet <stet@archive.test>\"\n\
         to = [\"desk@newsroom.test\"]\nbackoff_secs = 0\n\n"
    )
}

#[test]
fn an_smtp_server_receives_a_mail_naming_the_article_and_the_change() {
    let smtp = SmtpServer::start();
    let site = Site::start();
    let sinks = email_sink("mail", smtp.port, "mail-secret")
        + &email_sink("wrong-password", smtp.port, "guess");
    let stet = Stet::new("", &sinks);
    let url = site.url("/news/bridge");
    site.set("/news/bridge", Route::html(page("40,000")));
    stet.check_one(&url);
    site.set("/news/bridge", Route::html(page("25,000")));
    let out = stet.ok(&["check", &url]);
    assert!(out.contains("alerts: 1 sent, 1 to retry"), "{out}");
    // The server writes the message once it has accepted it.
    wait_until(10, "the mail", || !smtp.messages().is_empty());
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail["login"], "stet");
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["desk@newsroom.test"]));
    let subject = mail["subject"].as_str().unwrap();
    assert!(subject.contains("Edited (substantive)"), "{subject}");
    assert!(subject.contains(BRIDGE), "{subject}");
    assert!(subject.contains("v1 \u{2192} v2"), "{subject}");
    assert_eq!(mail["content_type"], "multipart/alternative");
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("About [-40,000-] vehicles"), "{text}");
    assert!(text.contains("About {+25,000+} vehicles"), "{text}");
    assert!(
        text.contains(&format!("stet diff {url} --from 1 --to 2")),
        "{text}"
    );
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains("<del>40,000</del>"), "{html}");
    assert!(html.contains("<ins>25,000</ins>"), "{html}");
    let list = alerts_list(&stet);
    let sinks = list["sinks"].as_array().unwrap();
    assert_eq!(
        (sinks[0]["name"].as_str(), sinks[0]["sent"].as_i64()),
        (Some("mail"), Some(1))
    );
    assert_eq!(sinks[1]["name"], "wrong-password");
    assert_eq!(sinks[1]["pending"], 1);
    let err = sinks[1]["last_error"].as_str().unwrap();
    assert!(
        err.contains("smtp 127.0.0.1") && err.contains("535"),
        "{err}"
    );
}

#[test]
fn a_command_sink_gets_the_event_json_on_stdin_and_its_failures_are_recorded() {
    let site = Site::start();
    let out_dir = tempfile::tempdir().unwrap();
    let event_file = out_dir.path().join("event.json");
    let sinks = format!(
        "[[alert]]\nname = \"script\"\nkind = \"command\"\ncommand = [\"tee\", \"{}\"]\n\n\
         [[alert]]\nname = \"broken\"\nkind = \"command\"\n\
         command = [\"sh\", \"-c\", \"echo disk full >&2; exit 3\"]\nmax_attempts = 1\n\n\
         [[alert]]\nname = \"slow\"\nkind = \"command\"\ncommand = [\"sleep\", \"30\"]\n\
         timeout_secs = 1\n",
        event_file.display()
    );
    let stet = Stet::new("", &sinks);
    let url = site.url("/news/bridge");
    site.set("/news/bridge", Route::html(page("40,000")));
    stet.check_one(&url);
    site.set("/news/bridge", Route::status(410, "gone"));
    stet.check_one(&url);
    let started = Instant::now();
    let report = stet.check_one(&url);
    assert_eq!(kind(&report), "deleted");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "a slow sink is cut off by its timeout"
    );

    let event: Value = serde_json::from_slice(&std::fs::read(&event_file).unwrap()).unwrap();
    assert_eq!(event["event"], "deleted");
    assert_eq!(event["url"], url);
    assert_eq!(event["title"], BRIDGE);
    assert_eq!(event["versions"]["to"], 1);
    assert_eq!(event["detail"], "http 410");
    assert_eq!(event["command"], format!("stet history {url}"));

    let list = alerts_list(&stet);
    let by_sink: HashMap<&str, &Value> = list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["sink"].as_str().unwrap(), a))
        .collect();
    assert_eq!(by_sink["script"]["status"], "sent");
    assert_eq!(by_sink["broken"]["status"], "failed");
    let err = by_sink["broken"]["last_error"].as_str().unwrap();
    assert!(err.contains("disk full") && err.contains('3'), "{err}");
    assert_eq!(by_sink["slow"]["status"], "pending");
    let err = by_sink["slow"]["last_error"].as_str().unwrap();
    assert!(err.contains("did not finish within 1 s"), "{err}");

    // A failed alert can be queued again.
    let retried: Value =
        serde_json::from_str(&stet.ok(&["alerts", "retry", "--sink", "broken", "--json"])).unwrap();
    assert_eq!(retried["queued"], 1);
    let list = alerts_list(&stet);
    let broken = list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["sink"] == "broken")
        .unwrap();
    assert_eq!(broken["status"], "pending");
    assert_eq!(broken["attempts"], 0);
}

#[test]
fn a_bad_sink_url_is_a_configuration_error_naming_its_line() {
    let stet = Stet::new("", &webhook_sink("hooks.example/no-scheme", ""));
    let out = stet.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stet.toml:"), "{err}");
    assert!(
        err.contains("alert \"hook\"") && err.contains("bad url"),
        "{err}"
    );
}

#[test]
fn an_unreachable_smtp_server_never_blocks_checking_and_is_reported() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = Site::start();
    let stet = Stet::new("", &email_sink("mail", port, "x"));
    let url = site.url("/news/bridge");
    site.set("/news/bridge", Route::html(page("40,000")));
    stet.check_one(&url);
    site.set("/news/bridge", Route::html(page("25,000")));
    assert_eq!(kind(&stet.check_one(&url)), "edited");

    let list = alerts_list(&stet);
    assert_eq!(statuses(&list), ["pending"]);
    let alert = &list["alerts"][0];
    assert_eq!(alert["attempts"], 1);
    let err = alert["last_error"].as_str().unwrap();
    assert!(err.contains("smtp 127.0.0.1"), "{err}");
    assert_eq!(list["sinks"][0]["name"], "mail");
    assert_eq!(list["sinks"][0]["last_error"].as_str(), Some(err));
    let human = stet.ok(&["alerts", "list"]);
    assert!(human.contains("last error: smtp 127.0.0.1"), "{human}");
}

/// Checks every watch again each second, so a daemon test waits for outcomes, not for the clock.
const EVERY_SECOND: &str = "[schedule]\ndefault = \"every 1s\"\njitter = \"0s\"\n";

/// A running `stet run`, killed when dropped (also when the test fails half-way).
struct RunningDaemon(Child);

impl std::ops::Deref for RunningDaemon {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for RunningDaemon {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for RunningDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_daemon(stet: &Stet) -> RunningDaemon {
    RunningDaemon(
        stet.command()
            .args(["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start stet run"),
    )
}

#[test]
fn an_alert_committed_before_a_sigkill_is_delivered_after_restart() {
    let receiver = Receiver::start(0);
    receiver.hold.store(true, Ordering::SeqCst);
    let site = Site::start();
    let config = format!("{EVERY_SECOND}\n{}", webhook_sink(&receiver.url(), ""));
    let stet = Stet::with_storage(Storage::of_this_run().lease("3s"), "", &config);
    let url = site.url("/news/bridge");
    site.set("/news/bridge", Route::html(page("40,000")));
    stet.check_one(&url);
    site.set("/news/bridge", Route::html(page("25,000")));

    let mut daemon = start_daemon(&stet);
    // The daemon records the edit, then tries to deliver its alert; the receiver holds it.
    wait_until(30, "a delivery attempt", || !receiver.received().is_empty());
    daemon.kill().unwrap(); // SIGKILL, mid-delivery
    daemon.wait().unwrap();
    let held_key = receiver.received()[0].key();
    assert!(receiver.accepted().is_empty());
    let list = alerts_list(&stet);
    assert_eq!(statuses(&list), ["pending"], "the alert survived the kill");

    receiver.hold.store(false, Ordering::SeqCst);
    let mut daemon = start_daemon(&stet);
    wait_until(30, "the alert after restart", || {
        !receiver.accepted().is_empty()
    });
    wait_until(30, "the alert recorded as sent", || {
        statuses(&alerts_list(&stet)) == ["sent"]
    });
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].key(), held_key, "the same alert, the same key");
    let body = accepted[0].json();
    assert_eq!(body["event"], "edited");
    assert_eq!(body["url"], url);
    assert_eq!(body["versions"]["to"], 2);
}

#[test]
fn rate_limits_and_digests_hold_alerts_back_without_dropping_them() {
    let receiver = Receiver::start(0);
    let site = Site::start();
    let sinks = format!(
        "[[alert]]\nname = \"limited\"\nkind = \"webhook\"\nurl = \"{0}\"\nmax_per_hour = 1\n\n\
         [[alert]]\nname = \"daily\"\nkind = \"webhook\"\nurl = \"{0}\"\ndigest_secs = 86400\n",
        receiver.url()
    );
    let stet = Stet::new("", &sinks);
    let paths = ["/news/a", "/news/b", "/news/c"];
    let urls: Vec<String> = paths.iter().map(|p| site.url(p)).collect();
    for p in paths {
        site.set(p, Route::html(page("40,000")));
    }
    stet.watch(&urls);
    stet.check(&[]);
    for p in paths {
        site.set(p, Route::html(page("25,000")));
    }
    let reports = stet.ok(&["check", "--no-alerts", "--json"]);
    assert_eq!(reports.lines().count(), 3, "{reports}");
    assert!(
        receiver.received().is_empty(),
        "--no-alerts leaves them queued"
    );
    assert_eq!(statuses(&alerts_list(&stet)), ["pending"; 6]);

    let round: Value = serde_json::from_str(&stet.ok(&["alerts", "deliver", "--json"])).unwrap();
    assert_eq!(round["sent"], 4, "{round}");
    assert_eq!(round["deferred"], 2, "{round}");
    let bodies: Vec<Value> = receiver.accepted().iter().map(Received::json).collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let single = bodies.iter().find(|b| b["sink"] == "limited").unwrap();
    assert_eq!(single["schema"], "stet.alert.v1");
    let digest = bodies.iter().find(|b| b["sink"] == "daily").unwrap();
    assert_eq!(digest["schema"], "stet.digest.v1");
    let mut in_digest: Vec<&str> = digest["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["url"].as_str().unwrap())
        .collect();
    in_digest.sort();
    assert_eq!(
        in_digest,
        urls.iter().map(String::as_str).collect::<Vec<_>>()
    );

    // Within the hour and the digest interval, a new edit waits too.
    site.set("/news/a", Route::html(page("30,000")));
    stet.check(&[&urls[0]]);
    stet.ok(&["alerts", "deliver"]);
    assert_eq!(receiver.accepted().len(), 2);
    let list = alerts_list(&stet);
    let count = |sink: &str, status: &str| {
        list["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["sink"] == sink && a["status"] == status)
            .count()
    };
    assert_eq!(
        (count("limited", "sent"), count("limited", "pending")),
        (1, 3)
    );
    assert_eq!((count("daily", "sent"), count("daily", "pending")), (3, 1));
}

#[test]
fn the_daemon_reports_an_unreachable_smtp_server_at_startup() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stet = Stet::new("", &email_sink("mail", port, "x"));
    let mut daemon = stet
        .command()
        .args(["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stet run");
    let stderr = daemon.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("alert sink unusable") => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    let line =
        found.unwrap_or_else(|| panic!("no startup report; the log was:\n{}", seen.join("\n")));
    assert!(
        line.contains("mail") && line.contains("smtp 127.0.0.1"),
        "{line}"
    );
}

#[test]
fn chat_and_ntfy_sinks_get_their_own_payloads() {
    let receiver = Receiver::start(0);
    let site = Site::start();
    let sinks: String = ["slack", "discord", "mattermost", "ntfy"]
        .iter()
        .map(|k| {
            format!(
                "[[alert]]\nname = \"{k}\"\nkind = \"{k}\"\nurl = \"{}\"\n\n",
                receiver.url()
            )
        })
        .collect();
    let stet = Stet::new("", &sinks);
    let url = site.url("/news/bridge");
    site.set("/news/bridge", Route::html(page("40,000")));
    stet.check_one(&url);
    site.set("/news/bridge", Route::html(page("25,000")));
    stet.check_one(&url);
    let got = receiver.accepted();
    assert_eq!(got.len(), 4, "{got:?}");
    let texts: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    let json_texts: Vec<Value> = texts
        .iter()
        .filter_map(|t| serde_json::from_str(t).ok())
        .collect();
    // Slack and Mattermost: {"text"} with <url|title> links; Discord: {"content"} in Markdown.
    let slack: Vec<&str> = json_texts
        .iter()
        .filter_map(|j| j["text"].as_str())
        .collect();
    assert_eq!(slack.len(), 2);
    for t in slack {
        assert!(
            t.contains(&format!("<{url}|")) && t.contains("{+25,000+}"),
            "{t}"
        );
    }
    let discord = json_texts
        .iter()
        .find_map(|j| j["content"].as_str())
        .unwrap();
    assert!(discord.contains(&format!("]({url})")), "{discord}");
    // ntfy: a plain-text body, the subject as Title and the article as Click.
    let ntfy = got
        .iter()
        .find(|r| r.headers.contains_key("click"))
        .expect("the ntfy post");
    assert_eq!(ntfy.headers["click"], url);
    assert!(ntfy.headers["title"].contains(BRIDGE), "{:?}", ntfy.headers);
    assert_eq!(ntfy.headers["tags"], "pencil2");
    let body = String::from_utf8(ntfy.body.clone()).unwrap();
    assert!(body.contains("About [-40,000-] vehicles"), "{body}");
}

#[test]
fn a_sink_with_match_feeds_hears_only_of_articles_from_that_feed() {
    let receiver = Receiver::start(0);
    let site = Site::start();
    let feed_url = site.url("/feed.xml");
    let config = format!(
        "[feeds]\nallow_hosts = [\"127.0.0.1\"]\n\n[[feed]]\nurl = \"{feed_url}\"\n\n{}",
        webhook_sink(&receiver.url(), &format!("match_feeds = [\"{feed_url}\"]"))
    );
    let stet = Stet::new("", &config);
    let (from_feed, by_hand) = (site.url("/news/from-feed"), site.url("/news/by-hand"));
    site.set("/news/from-feed", Route::html(page("40,000")));
    site.set("/news/by-hand", Route::html(page("40,000")));
    site.set(
        "/feed.xml",
        Route::typed(
            "application/rss+xml",
            format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>News</title>\
                 <item><title>t</title><link>{from_feed}</link></item></channel></rss>"
            ),
        ),
    );
    stet.ok(&["feed", "poll"]);
    stet.watch(std::slice::from_ref(&by_hand));
    assert_eq!(stet.check(&[]).len(), 2);
    site.set("/news/from-feed", Route::html(page("25,000")));
    site.set("/news/by-hand", Route::html(page("25,000")));
    let reports = stet.check(&[]);
    assert!(reports.iter().all(|r| kind(r) == "edited"), "{reports:?}");
    let urls: Vec<Value> = receiver
        .accepted()
        .iter()
        .map(|r| r.json()["url"].clone())
        .collect();
    assert_eq!(urls, [Value::from(from_feed)]);
}
