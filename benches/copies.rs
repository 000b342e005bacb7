//! What the copy index costs: CPU time and bytes to index one version, and candidate lookup
//! time with 1,000,000 versions in the in-memory index.
//!
//! ```text
//! cargo bench --bench copies [-- --versions N]
//! ```
//!
//! Indexing is measured on the canonical texts of the pages of `tests/fixtures/readability`
//! (extracted by stet first, not timed). The million indexed versions are synthetic sketches
//! (random MinHash values, so their bands are as spread as real texts'); each lookup is the sketch
//! of a real text, and a tenth of them are of texts that were indexed, so the lookups that find
//! something are measured too.

use std::path::Path;
use std::time::Instant;

use stet::pure::copies::{CopyIndex, Shingled, Sketch, sketch};
use stet::pure::fingerprint::Fingerprint;

fn main() {
    let mut versions = 1_000_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--versions" {
            versions = args.next().and_then(|v| v.parse().ok()).expect("a number");
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/readability");
    let mut texts = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect();
    names.sort();
    for d in names {
        let Ok(bytes) = std::fs::read(d.join("source.html.zst")) else {
            continue;
        };
        let html =
            String::from_utf8_lossy(&zstd::decode_all(bytes.as_slice()).unwrap()).into_owned();
        let article = stet::pure::extract::extract(&html, "http://bench.test/");
        texts.push(Fingerprint::of(&article).canonical_text);
    }
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();

    // Indexing: shingles, sketch, band keys and the serialised form, per version.
    let rounds = 20;
    let start = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..rounds {
        for t in &texts {
            let s = Shingled::of(t).sketch();
            bytes += s.to_bytes().len() + 8 * sketch::BANDS;
            std::hint::black_box(s.bands());
        }
    }
    let per = start.elapsed().as_secs_f64() / (rounds * texts.len()) as f64;
    println!(
        "indexing: {} texts ({} words on average): {:.3} ms CPU per version; {} bytes of sketch \
         + {} bytes of band keys = {} bytes per version",
        texts.len(),
        words / texts.len().max(1),
        per * 1e3,
        sketch::BYTES,
        8 * sketch::BANDS,
        bytes / (rounds * texts.len())
    );

    // A million synthetic versions.
    let start = Instant::now();
    let mut seed = 0x5354_4554u64;
    let mut next = || {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut index: CopyIndex<u32> = CopyIndex::new();
    let batch = 100_000;
    let mut done = 0;
    while done < versions {
        let n = batch.min(versions - done);
        let sketches: Vec<Sketch> = (0..n)
            .map(|_| {
                let mut mins = [0u32; sketch::HASHES];
                for m in &mut mins {
                    *m = next() as u32;
                }
                Sketch {
                    shingles: 400,
                    mins,
                }
            })
            .collect();
        index.extend(
            sketches
                .iter()
                .enumerate()
                .map(|(i, s)| ((done + i) as u32, s)),
        );
        done += n;
    }
    for (i, t) in texts.iter().enumerate().filter(|(i, _)| i % 10 == 0) {
        index.insert((versions + i) as u32, &Sketch::of(t));
    }
    println!(
        "built an index of {} versions in {:.1} s ({} MB of band entries)",
        index.len(),
        start.elapsed().as_secs_f64(),
        index.len() * sketch::BANDS * 8 / 1_000_000
    );
    let mut times = Vec::new();
    let mut found = 0usize;
    for _ in 0..5 {
        for t in &texts {
            let s = Sketch::of(t);
            let start = Instant::now();
            let c = index.candidates(&s);
            times.push(start.elapsed().as_secs_f64());
            found += usize::from(!c.is_empty());
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize] * 1e3;
    println!(
        "lookup at {} versions: {} lookups, {} with a candidate; p50 {:.3} ms, p95 {:.3} ms, max {:.3} ms",
        index.len(),
        times.len(),
        found,
        q(0.5),
        q(0.95),
        q(1.0)
    );
}
