//! Measures the latency of `stet serve`'s pages: the article, diff and search pages and the
//! API's `changes?since=`, one request at a time, reporting the median and the 99th percentile.
//!
//! ```sh
//! cargo run --release --example synthetic_archive -- /tmp/web.db 100 100   # 10,000 versions
//! stet --db /tmp/web.db serve --listen 127.0.0.1:8481 &
//! cargo run --release --example serve_latency -- http://127.0.0.1:8481 300
//! ```
//!
//! `benches/many_watches.py DB N` adds N bare watches to a copy of such an archive, to measure
//! the watch list at 100,000 watches.

use std::time::{Duration, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8481".into());
    let rounds: usize = args.next().map_or(Ok(300), |a| a.parse())?;
    // reqwest is built without a TLS provider of its own; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let watches = get_json(
        &client,
        &format!("{base}/api/v1/watches?sort=added&limit=500"),
    )
    .await?;
    let ids: Vec<(i64, i64)> = watches["items"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no watch list"))?
        .iter()
        .map(|w| {
            (
                w["id"].as_i64().unwrap_or(1),
                w["versions"].as_i64().unwrap_or(1),
            )
        })
        .collect();
    anyhow::ensure!(!ids.is_empty(), "the archive has no watches");
    let first = get_json(
        &client,
        &format!("{base}/api/v1/changes?since=2000-01-01T00:00:00Z&limit=1"),
    )
    .await?;
    let since = first["items"][0]["at"]
        .as_str()
        .unwrap_or("2000-01-01T00:00:00Z")
        .to_string();
    // Wait until the search index has caught up, so search is measured, not indexing.
    let last = ids.iter().map(|(_, v)| *v).max().unwrap_or(1);
    for _ in 0..600 {
        let body = client
            .get(format!(
                "{base}/api/v1/search?q=%22Revision+{}%22&limit=200",
                last - 1
            ))
            .send()
            .await?
            .text()
            .await?;
        if body.matches("\"watch_id\"").count() >= ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Cursors of watch-list pages up to 10,000 rows deep, to measure pages far from the first.
    let mut cursors: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    while cursors.len() < 200 {
        let path = match &cursor {
            Some(c) => format!("{base}/api/v1/watches?limit=50&cursor={c}"),
            None => format!("{base}/api/v1/watches?limit=50"),
        };
        let page = get_json(&client, &path).await?;
        match page["next_cursor"].as_str() {
            Some(c) => {
                cursors.push(c.to_string());
                cursor = Some(c.to_string());
            }
            None => break,
        }
    }
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    println!(
        "{rounds} requests each, one at a time, against {base} ({} watches)",
        ids.len()
    );
    println!("| page | median ms | p99 ms |");
    println!("|---|---|---|");
    let mut kinds = vec![
        "watch list",
        "watch list, search box",
        "article",
        "diff",
        "search",
        "changes?since=",
    ];
    if !cursors.is_empty() {
        kinds.insert(1, "watch list, deep page");
    }
    for kind in kinds.iter().copied() {
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let (id, versions) = ids[next(ids.len())];
            let path = match kind {
                "watch list" => "/".to_string(),
                "watch list, deep page" => format!("/?after={}", cursors[next(cursors.len())]),
                "watch list, search box" => format!("/?q=/{:04}/", next(ids.len())),
                "article" => format!("/articles/{id}"),
                "diff" => {
                    let to = 2 + next((versions - 1).max(1) as usize) as i64;
                    format!("/articles/{id}/diff?from={}&to={to}", to - 1)
                }
                "search" => format!("/search?q=Revision+{}", next(versions as usize)),
                _ => format!("/api/v1/changes?since={since}&limit=100"),
            };
            let started = Instant::now();
            let response = client.get(format!("{base}{path}")).send().await?;
            let status = response.status();
            let _ = response.bytes().await?;
            times.push(started.elapsed());
            anyhow::ensure!(status.is_success(), "{path}: {status}");
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p99 = times[((times.len() * 99) / 100).min(times.len() - 1)];
        println!(
            "| {kind} | {:.1} | {:.1} |",
            ms(times[times.len() / 2]),
            ms(p99)
        );
    }
    Ok(())
}

async fn get_json(client: &reqwest::Client, url: &str) -> anyhow::Result<serde_json::Value> {
    let bytes = client.get(url).send().await?.bytes().await?;
    Ok(serde_json::from_slice(&bytes)?)
}
