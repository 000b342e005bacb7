//! An archive built by real checks of a local site (edits, a deletion, a restoration) on the
//! run's backend, for the web tests and the browser test target. It only builds; the tests read.

use std::ops::Deref;
use std::time::Duration;

use super::Stet;
use super::site::{Route, Site};

pub const BRIDGE_V1: &[&str] = &[
    "The city council voted on Tuesday to close the harbour bridge for six weeks of repairs to its corroded cables.",
    "About 40,000 vehicles cross the bridge every day, and buses will be diverted through the eastern tunnel.",
    "Engineers found the corrosion during a routine inspection of the suspension cables in the spring.",
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

/// A `Stet` with an archive, and the site it was built from.
pub struct Archive {
    pub stet: Stet,
    pub site: Site,
    pub urls: Urls,
}

impl Deref for Archive {
    type Target = Stet;

    fn deref(&self) -> &Stet {
        &self.stet
    }
}

impl Archive {
    /// Checks a local site into a new archive: the bridge article edited twice (a word, then a
    /// sentence removed, one second apart so the versions have distinct capture seconds), the
    /// harbour article deleted and restored, the market article captured once, and a page
    /// with a hostile script. `server` is appended to the config.
    pub fn build(server: &str) -> Self {
        let stet = Stet::new("", server);
        let site = Site::start();
        let urls = Urls {
            bridge: site.url("/news/2026/bridge-to-close"),
            harbour: site.url("/news/2026/harbour-ferry"),
            market: site.url("/news/2026/market-hall"),
            hostile: site.url("/news/2026/hostile"),
        };
        let archive = Self { stet, site, urls };
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
}
