//! Builds a synthetic archive to measure `stet verify` on: `WATCHES` articles with `PER_WATCH`
//! versions each (an event per version), written through the same store API a pass uses, so
//! every row has its ledger entry.
//!
//! ```sh
//! cargo run --example synthetic_archive -- /tmp/big.db 100 100   # 10,000 versions, ~26 KB pages
//! cargo run --example synthetic_archive -- /tmp/huge.db 100 100 2000   # ~130 KB pages
//! time stet --db /tmp/big.db verify
//! ```

use std::path::PathBuf;

use stet::pure::classify::{Decision, Latest, WatchState};
use stet::pure::fingerprint::Fingerprint;
use stet::pure::model::{CheckKind, Sha256Hash, VersionSeq, WatchStatus, now_rfc3339};
use stet::store::{Capture, CheckRecord, Store};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().unwrap_or_else(|| "synthetic.db".into()));
    let watches: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let per_watch: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let paragraphs: usize = args.next().map_or(Ok(400), |a| a.parse())?;
    let mut store = Store::open(&path)?;
    // Page furniture: 400 paragraphs make a page of about 26 KB.
    let filler: String = (0..paragraphs)
        .map(|i| format!("<p class=\"para-{i}\">Paragraph {i} of the story, as published.</p>\n"))
        .collect();
    for w in 0..watches {
        let url = format!("https://news.example/{w:04}/story");
        let (id, _) = store.add_watch(&url, "cli", &now_rfc3339())?;
        let mut latest: Option<Latest> = None;
        let mut batch = store.batch()?;
        for v in 0..per_watch {
            let text = format!("Story {w}\nRevision {v} of the story.\nIt changed again.");
            let fp = Fingerprint::of_canonical(text);
            let raw = format!(
                "<html><head><title>Story {w}</title></head><body><h1>Story {w}</h1>\
                 <p>Revision {v} of the story.</p><p>It changed again.</p>{filler}</body></html>"
            )
            .into_bytes();
            let capture = Capture {
                body_hash: Sha256Hash::of(&raw),
                raw,
                final_url: url.clone(),
                title: format!("Story {w}"),
                byline: None,
                published: None,
                modified: None,
                canonical_url: None,
                canonical_text: fp.canonical_text.clone(),
                content_hash: fp.content_hash,
                loose_hash: fp.loose_hash,
                packed: None,
                text_zstd: None,
            };
            let next = WatchState {
                status: WatchStatus::Live,
                gone_streak: 0,
                error_streak: 0,
                latest: latest.clone(),
            };
            let decision = Decision {
                kind: if v == 0 {
                    CheckKind::Captured
                } else {
                    CheckKind::Edited
                },
                new_version: true,
                significance: None,
                reverted_to: None,
                next,
                detail: None,
            };
            batch.record(&CheckRecord {
                watch_id: id,
                at: &now_rfc3339(),
                http_status: Some(200),
                decision: &decision,
                capture: Some(&capture),
                validators: None,
                next_check_at: None,
                retire: false,
            })?;
            latest = Some(Latest {
                seq: VersionSeq(v as i64 + 1),
                content_hash: fp.content_hash,
                loose_hash: fp.loose_hash,
                metadata: Default::default(),
            });
        }
        batch.commit()?;
    }
    println!(
        "{}: {} versions in {watches} watches",
        path.display(),
        watches * per_watch
    );
    Ok(())
}
