//! A local HTTP/1.1 site whose pages a test can edit, delete and break: real TCP on 127.0.0.1,
//! one thread per connection, one request per connection. Written by hand rather than with a
//! server framework because the tests need what frameworks prevent: stalls, connection resets
//! and bodies shorter than their Content-Length.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How the site answers one path.
#[derive(Clone, Debug)]
pub enum Route {
    /// A normal response.
    Page {
        status: u16,
        content_type: String,
        body: Arc<Vec<u8>>,
        /// Sent as ETag; a request whose If-None-Match equals it gets 304.
        etag: Option<String>,
    },
    /// Reads the request, then says nothing for this long before closing.
    Stall(Duration),
    /// Reads the request, then resets the connection (RST).
    Reset,
    /// Promises `declared` bytes, sends `body`, then closes.
    Truncated { declared: usize, body: Vec<u8> },
    /// Streams `total` bytes of HTML without a Content-Length, until the client hangs up.
    Endless { total: usize },
    /// A redirect.
    Redirect { status: u16, location: String },
    /// Waits, then answers 200 with this HTML.
    Slow { delay: Duration, body: Arc<Vec<u8>> },
    /// Any status with extra response headers (such as Retry-After).
    WithHeaders {
        status: u16,
        body: Arc<Vec<u8>>,
        headers: Vec<(String, String)>,
    },
}

impl Route {
    pub fn html(body: impl Into<Vec<u8>>) -> Self {
        Self::Page {
            status: 200,
            content_type: "text/html; charset=utf-8".into(),
            body: Arc::new(body.into()),
            etag: None,
        }
    }

    pub fn status(status: u16, body: &str) -> Self {
        Self::Page {
            status,
            content_type: "text/html; charset=utf-8".into(),
            body: Arc::new(body.as_bytes().to_vec()),
            etag: None,
        }
    }

    pub fn typed(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self::Page {
            status: 200,
            content_type: content_type.into(),
            body: Arc::new(body.into()),
            etag: None,
        }
    }
}

/// One request as the site saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// When its headers had arrived, and when the site was done working on it (its response
    /// started).
    pub arrived: Instant,
    pub done: Instant,
    /// `arrived` on the wall clock, to compare with times stet prints.
    pub arrived_wall: SystemTime,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    /// The next this-many requests, whatever their path, get 429 with this Retry-After.
    throttle: usize,
    throttle_retry_after: Option<u64>,
    /// Every request since the site started (or since `clear_log`).
    log: Vec<Request>,
    /// Requests per path.
    hits: HashMap<String, usize>,
    /// Request headers of the last request per path, lower-cased names.
    last_headers: HashMap<String, HashMap<String, String>>,
}

pub struct Site {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// The most requests in progress at once.
    peak: Arc<AtomicUsize>,
}

impl Site {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test site");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let open = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (s, o, p) = (state.clone(), open.clone(), peak.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (s, o, p) = (s.clone(), o.clone(), p.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &s, &o, &p);
                });
            }
        });
        Self { addr, state, peak }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), route);
    }

    pub fn hits(&self, path: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn last_header(&self, path: &str, name: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .last_headers
            .get(path)
            .and_then(|h| h.get(name).cloned())
    }

    /// The most requests the site was working on at once.
    pub fn peak_connections(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Answers the next `n` requests, whatever their path, with 429 Too Many Requests (with
    /// `Retry-After: secs` when given), as a site's rate limiter does.
    pub fn throttle_next(&self, n: usize, retry_after: Option<u64>) {
        let mut st = self.state.lock().unwrap();
        st.throttle = n;
        st.throttle_retry_after = retry_after;
    }

    /// Every request since the start or the last `clear_log`, in the order they arrived.
    pub fn log(&self) -> Vec<Request> {
        let mut log = self.state.lock().unwrap().log.clone();
        log.sort_by_key(|r| r.arrived);
        log
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

/// The most requests among `log` the site was working on at the same time.
pub fn most_at_once(log: &[Request]) -> usize {
    log.iter()
        .map(|r| {
            log.iter()
                .filter(|o| o.arrived <= r.arrived && o.done > r.arrived)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Serves one request. `open` counts requests being worked on (from the end of the request
/// headers until the response starts), `peak` the most at once: the server's view of how many
/// requests a client has in flight.
fn serve(
    stream: TcpStream,
    state: &Mutex<State>,
    open: &AtomicUsize,
    peak: &AtomicUsize,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let arrived = Instant::now();
    let arrived_wall = SystemTime::now();
    let route = {
        let mut st = state.lock().unwrap();
        *st.hits.entry(path.clone()).or_default() += 1;
        st.last_headers.insert(path.clone(), headers.clone());
        if st.throttle > 0 {
            st.throttle -= 1;
            let headers = st
                .throttle_retry_after
                .map(|s| vec![("Retry-After".to_string(), s.to_string())])
                .unwrap_or_default();
            Some(Route::WithHeaders {
                status: 429,
                body: Arc::new(b"<h1>Too many requests</h1>".to_vec()),
                headers,
            })
        } else {
            st.routes.get(&path).cloned()
        }
    };
    let mut stream = stream;
    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
    peak.fetch_max(now, Ordering::SeqCst);
    if let Some(Route::Slow { delay, .. }) = &route {
        std::thread::sleep(*delay);
    }
    open.fetch_sub(1, Ordering::SeqCst);
    let status = match &route {
        None => 404,
        Some(Route::Page { status, .. } | Route::WithHeaders { status, .. }) => *status,
        Some(Route::Redirect { status, .. }) => *status,
        Some(_) => 200,
    };
    state.lock().unwrap().log.push(Request {
        path: path.clone(),
        status,
        arrived,
        done: Instant::now(),
        arrived_wall,
    });
    match route {
        None => write_response(&mut stream, 404, "text/html", b"<h1>Not found</h1>", &[]),
        Some(Route::Page {
            status,
            content_type,
            body,
            etag,
        }) => {
            if let Some(tag) = &etag {
                if headers.get("if-none-match") == Some(tag) {
                    return write_response(&mut stream, 304, &content_type, b"", &[("ETag", tag)]);
                }
                write_response(&mut stream, status, &content_type, &body, &[("ETag", tag)])
            } else {
                write_response(&mut stream, status, &content_type, &body, &[])
            }
        }
        Some(Route::Redirect { status, location }) => write_response(
            &mut stream,
            status,
            "text/html",
            b"",
            &[("Location", &location)],
        ),
        Some(Route::WithHeaders {
            status,
            body,
            headers,
        }) => {
            let extra: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            write_response(
                &mut stream,
                status,
                "text/html; charset=utf-8",
                &body,
                &extra,
            )
        }
        Some(Route::Slow { body, .. }) => {
            write_response(&mut stream, 200, "text/html; charset=utf-8", &body, &[])
        }
        Some(Route::Stall(d)) => {
            std::thread::sleep(d);
            Ok(())
        }
        Some(Route::Reset) => {
            let sock = socket2::SockRef::from(&stream);
            sock.set_linger(Some(Duration::ZERO))?;
            drop(stream);
            Ok(())
        }
        Some(Route::Truncated { declared, body }) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes())?;
            stream.write_all(&body)?;
            stream.flush()
        }
        Some(Route::Endless { total }) => {
            stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><body>",
            )?;
            let chunk = "<p>more and more text without end</p>\n".repeat(1000);
            let mut sent = 0;
            while sent < total {
                // Stops with an error as soon as the client hangs up.
                stream.write_all(chunk.as_bytes())?;
                sent += chunk.len();
            }
            stream.flush()
        }
    }
}

fn write_response(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
    );
    if status != 304 {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if status != 304 {
        stream.write_all(body)?;
    }
    stream.flush()
}
