//! What a user sees: help, the watch list, history, diffs, show, JSON everywhere, exit codes,
//! and the offline demo.

use crate::support::site::{Route, Site};
use crate::support::{PARAS, Stet, article_page, json_lines, kind};

#[test]
fn help_explains_the_verbs_and_exit_codes() {
    let stet = Stet::new("", "");
    let help = stet.ok(&["--help"]);
    for verb in [
        "run", "check", "watch", "history", "diff", "show", "demo", "extract",
    ] {
        assert!(help.contains(verb), "--help names `{verb}`:\n{help}");
    }
    assert!(help.contains("Exit codes"), "{help}");
    let check_help = stet.ok(&["check", "--help"]);
    assert!(check_help.contains("--json"), "{check_help}");
}

#[test]
fn watch_add_list_rm_round_trip() {
    let stet = Stet::new(
        "",
        "[[watch]]\nurl = \"https://news.example.org/from-config\"",
    );
    stet.ok(&[
        "watch",
        "add",
        "https://news.example.org/2021/07/iraq-troops#comments",
    ]);
    let again = stet.ok(&[
        "watch",
        "add",
        "https://news.example.org/2021/07/iraq-troops",
    ]);
    assert!(again.contains("already watching"), "{again}");
    let list = json_lines(&stet.ok(&["watch", "list", "--json"]));
    let urls: Vec<&str> = list.iter().map(|w| w["url"].as_str().unwrap()).collect();
    assert_eq!(
        urls,
        [
            "https://news.example.org/from-config",
            "https://news.example.org/2021/07/iraq-troops"
        ]
    );
    assert_eq!(list[0]["origin"], "config");
    assert_eq!(list[1]["origin"], "cli");
    let table = stet.ok(&["watch", "list"]);
    assert!(
        table.contains("URL") && table.contains("iraq-troops") && table.contains("new"),
        "{table}"
    );

    stet.ok(&[
        "watch",
        "rm",
        "https://news.example.org/2021/07/iraq-troops",
    ]);
    assert_eq!(json_lines(&stet.ok(&["watch", "list", "--json"])).len(), 1);
    let all = json_lines(&stet.ok(&["watch", "list", "--all", "--json"]));
    assert!(
        all[1]["removed_at"].is_string(),
        "removed watches keep their history: {all:?}"
    );
    let out = stet.run(&["watch", "rm", "https://never.example.org/x"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn history_diff_and_show_tell_what_changed() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let url = site.url("/story");
    site.set(
        "/story",
        Route::html(article_page("Bridge to close", PARAS)),
    );
    let first = stet.check_one(&url);
    assert_eq!(first["version"], 1);
    assert_eq!(first["content_hash"].as_str().unwrap().len(), 64);
    assert!(first["at"].as_str().unwrap().ends_with('Z'));
    let edited = PARAS[1].replace("40,000", "25,000");
    site.set(
        "/story",
        Route::html(article_page("Bridge to close", &[PARAS[0], &edited])),
    );
    let r = stet.check_one(&url);
    assert_eq!(
        (kind(&r), r["significance"].as_str()),
        ("edited", Some("substantive"))
    );
    assert_eq!(r["version"], 2);

    // Not a terminal: a plain unified diff of paragraphs.
    let diff = stet.ok(&["diff", &url]);
    assert!(diff.contains("--- ") && diff.contains("v1"), "{diff}");
    assert!(diff.contains("-About 40,000 vehicles"), "{diff}");
    assert!(diff.contains("+About 25,000 vehicles"), "{diff}");
    assert!(
        diff.contains("-Local businesses said"),
        "the removed paragraph: {diff}"
    );
    assert!(!diff.contains('\u{1b}'), "no color codes off a terminal");

    let json: serde_json::Value =
        serde_json::from_str(&stet.ok(&["diff", &url, "--json"])).unwrap();
    let changed: Vec<String> = json["hunks"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["segments"].as_array().unwrap().clone())
        .filter(|s| s["changed"] == true)
        .map(|s| s["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        changed.first().map(String::as_str),
        Some("40,000"),
        "word-level: {json}"
    );
    assert_eq!(
        changed.last().map(String::as_str),
        Some("25,000"),
        "word-level: {json}"
    );
    assert!(
        changed
            .iter()
            .all(|c| c.len() < 7 || c.starts_with("Local businesses")),
        "{changed:?}"
    );
    assert_eq!(json["words_added"], 1);

    let history = stet.ok(&["history", &url]);
    assert!(
        history.contains("captured") && history.contains("edited"),
        "{history}"
    );
    assert!(history.contains("substantive"), "{history}");

    let v1 = stet.ok(&["show", &url, "--version", "1"]);
    assert!(
        v1.contains("About 40,000 vehicles") && v1.contains("Local businesses"),
        "{v1}"
    );
    let latest = stet.ok(&["show", &url]);
    assert!(
        latest.contains("25,000") && !latest.contains("Local businesses"),
        "{latest}"
    );

    let missing = stet.run(&["show", &url, "--version", "9"]);
    assert_eq!(missing.status.code(), Some(3));
    let unwatched = stet.run(&["history", "https://not.watched.example/x"]);
    assert_eq!(unwatched.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unwatched.stderr).contains("not watched"));
}

#[test]
fn every_verb_takes_json() {
    let site = Site::start();
    let stet = Stet::new("", "");
    let url = site.url("/j");
    site.set("/j", Route::html(article_page("J", PARAS)));
    stet.ok(&["watch", "add", &url, "--json"]);
    for args in [
        vec!["watch", "list", "--json"],
        vec!["check", "--json"],
        vec!["history", &url, "--json"],
        vec!["diff", &url, "--json"],
        vec!["show", &url, "--json"],
        vec!["config", "check", "--json"],
    ] {
        let out = stet.ok(&args);
        let parsed: Result<Vec<serde_json::Value>, _> = out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect();
        // Pretty-printed documents parse whole; line-oriented ones parse per line.
        assert!(
            parsed.is_ok() || serde_json::from_str::<serde_json::Value>(&out).is_ok(),
            "{args:?} printed no JSON:\n{out}"
        );
    }
}

#[test]
fn the_demo_runs_offline_and_shows_every_event() {
    let stet = Stet::new("", "");
    let db = stet.dir.path().join("demo.db");
    let out = stet.ok(&["demo", "--json", "--keep", db.to_str().unwrap()]);
    let kinds: Vec<String> = json_lines(&out)
        .iter()
        .map(|r| kind(r).to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "captured",
            "unchanged",
            "edited",
            "edited",
            "error",
            "missing",
            "deleted",
            "restored"
        ]
    );
    let human = stet.ok(&["demo"]);
    assert!(
        human.contains("deleted") && human.contains("+About 25,000"),
        "{human}"
    );
    // Curly quotes open and close: once both were right-hand quotes.
    assert!(
        human.contains(
            "+\u{201c}The cables need attention,\u{201d} said council engineer Maria Lopes. \
             \u{201c}Safety comes first.\u{201d}"
        ),
        "{human}"
    );
}

#[test]
fn check_of_a_new_url_adds_it_and_exits_zero_even_when_it_fails() {
    let site = Site::start();
    let stet = Stet::new("", "");
    site.set("/down", Route::status(503, "down"));
    let out = stet.run(&["check", &site.url("/down")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error") && text.contains("http 503"),
        "{text}"
    );
    assert_eq!(json_lines(&stet.ok(&["watch", "list", "--json"])).len(), 1);
}

/// The column where `name` starts in the header line, and every row's cell in that column.
fn column_starts(table: &str, name: &str, rows: &[&str]) -> (usize, Vec<usize>) {
    let header = table
        .lines()
        .find(|l| l.contains("EVENT") && l.contains("VERSION"))
        .unwrap_or_else(|| panic!("no header in {table:?}"));
    let at = |line: &str, needle: &str| {
        line.find(needle)
            .map(|byte| line[..byte].chars().count())
            .unwrap_or(usize::MAX)
    };
    let header_at = at(header, name);
    let version_cell = regex::Regex::new(r"\sv\d").unwrap();
    let starts = table
        .lines()
        .filter(|l| rows.iter().any(|r| l.contains(r)))
        .map(|l| {
            version_cell
                .find(l)
                .map(|m| l[..m.start() + 1].chars().count())
                .unwrap_or(usize::MAX)
        })
        .collect();
    (header_at, starts)
}

fn strip_ansi(s: &str) -> String {
    let re = regex::Regex::new("\u{1b}\\[[0-9;]*m").unwrap();
    re.replace_all(s, "").replace('\r', "")
}

#[test]
fn history_event_column_lines_up_on_a_terminal_and_off_it() {
    let site = Site::start();
    let stet = Stet::new("", "[detect]\ngone_after = 1");
    let url = site.url("/story");
    site.set(
        "/story",
        Route::html(article_page("Bridge to close", PARAS)),
    );
    stet.check_one(&url);
    let edited = PARAS[1].replace("40,000", "25,000");
    site.set(
        "/story",
        Route::html(article_page(
            "Bridge to close",
            &[PARAS[0], &edited, PARAS[2]],
        )),
    );
    stet.check_one(&url);
    site.set("/story", Route::status(404, "gone"));
    stet.check_one(&url);
    let kinds = ["captured", "edited", "deleted"];

    // Off a terminal, with colors allowed: no codes, and EVENT as wide as its longest word.
    let out = stet
        .command()
        .env_remove("NO_COLOR")
        .args(["history", &url])
        .output()
        .unwrap();
    let plain = String::from_utf8(out.stdout).unwrap();
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    let (version_at, rows) = column_starts(&plain, "VERSION", &kinds);
    assert_eq!(rows, vec![version_at; 3], "VERSION lines up:\n{plain}");
    let (event_at, _) = column_starts(&plain, "EVENT", &kinds);
    assert!(
        version_at - event_at <= "captured".len() + 3,
        "the EVENT column keeps no width for color codes:\n{plain}"
    );

    // On a terminal (a pseudo-terminal from `script`): colored, and still aligned.
    let command = format!(
        "stty cols 200 rows 50; {} --config {} history {url}",
        env!("CARGO_BIN_EXE_stet"),
        stet.config_path().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .output()
        .expect("script (util-linux) runs");
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(raw.contains('\u{1b}'), "colored on a terminal: {raw:?}");
    let shown = strip_ansi(&raw);
    let (version_at, rows) = column_starts(&shown, "VERSION", &kinds);
    assert_eq!(
        rows,
        vec![version_at; 3],
        "VERSION lines up on a terminal:\n{shown}"
    );
    let (event_at, _) = column_starts(&shown, "EVENT", &kinds);
    assert!(version_at - event_at <= "captured".len() + 3, "{shown}");
}
