//! Measures the copy index on a generated web built from `../shared/corpus`.
//!
//! ```text
//! cargo run --release --example copies_web -- [--originals N] [--seed S] [--corpus DIR]
//! ```
//!
//! Builds originals, copies (one per transformation) and same-event negatives from the corpus's
//! pages (`web.rs`), reads every generated page with stet's extraction pipeline in-process,
//! finds candidates through the MinHash/LSH index and verifies them by containment, then prints
//! pair precision and recall per transformation, false links, the accuracy of `original`, and
//! the stale-copy events of phase 2, for a sweep of thresholds and for the defaults.

mod web;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use stet::pure::copies::Thresholds;
use web::{Report, Source, TRANSFORMS, Web};

fn main() {
    let mut originals = 300;
    let mut seed = 18;
    let mut corpus = PathBuf::from("../shared/corpus");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match a.as_str() {
            "--originals" => originals = value().parse().expect("a number"),
            "--seed" => seed = value().parse().expect("a number"),
            "--corpus" => corpus = PathBuf::from(value()),
            other => panic!("unknown argument {other}"),
        }
    }
    let sources = load(&corpus);
    if sources.is_empty() {
        eprintln!("no pages under {}: nothing to measure", corpus.display());
        std::process::exit(2);
    }
    let start = Instant::now();
    let web = Web::generate(&sources, originals, seed);
    println!(
        "{} source pages, {} stories, {} originals, {} generated pages, {} same-event pairs, seed {seed} ({:.1} s)",
        sources.len(),
        web.stories.len(),
        web.original_of.len(),
        web.pages.len(),
        web.same_event.len(),
        start.elapsed().as_secs_f64()
    );
    let start = Instant::now();
    let (reads, found) = web::index_all(&web);
    println!(
        "read and indexed in {:.1} s; {} candidate pairs verified",
        start.elapsed().as_secs_f64(),
        found.len()
    );
    println!(
        "\nsweep (containment, min shingles, min shared): recall, precision, same-event false links, unrelated false links, recall 30-50%"
    );
    for containment in [0.3, 0.4, 0.5, 0.6, 0.7] {
        for (min_shingles, min_shared) in [(30, 25), (60, 50), (100, 80)] {
            let t = Thresholds {
                containment,
                min_shingles,
                min_shared,
            };
            let (r, _) = web::score(&web, &reads, &found, &t);
            println!(
                "  {containment:.1} {min_shingles:>3} {min_shared:>3}: R {:.3} P {:.4} same-event {}/{} unrelated {} R30-50 {:.3}",
                r.all.recall(),
                r.all.precision(),
                r.same_event_links,
                r.same_event_pairs,
                r.unrelated_links,
                r.per_transform
                    .get(&web::Transform::Cut30to50)
                    .map(|s| s.recall())
                    .unwrap_or(1.0)
            );
        }
    }
    let t = Thresholds::default();
    let (mut r, links) = web::score(&web, &reads, &found, &t);
    if std::env::var_os("COPIES_EXPLAIN").is_some() {
        web::explain(&web, &reads, &links);
    }
    let p2 = web.phase2(seed);
    web::score_phase2(&web, &reads, &links, &p2, &t, &mut r);
    print_report(&r, &t);
}

fn print_report(r: &Report, t: &Thresholds) {
    println!(
        "\nat the defaults (containment {}, min shingles {}, min shared {}):",
        t.containment, t.min_shingles, t.min_shared
    );
    println!(
        "  {:<24} {:>6} {:>6} {:>9} {:>9}",
        "transformation", "pairs", "found", "recall", "precision"
    );
    for tr in TRANSFORMS {
        if let Some(s) = r.per_transform.get(&tr) {
            println!(
                "  {:<24} {:>6} {:>6} {:>9.3} {:>9.4}",
                tr.name(),
                s.expected,
                s.found,
                s.recall(),
                s.precision()
            );
        }
    }
    println!(
        "  {:<24} {:>6} {:>6} {:>9.3} {:>9.4}",
        "all",
        r.all.expected,
        r.all.found,
        r.all.recall(),
        r.all.precision()
    );
    println!(
        "  false links: same-event {}/{} ({:.2}%), unrelated {}; links between copies of one original {}",
        r.same_event_links,
        r.same_event_pairs,
        100.0 * web::ratio(r.same_event_links, r.same_event_pairs),
        r.unrelated_links,
        r.copy_copy_links
    );
    println!(
        "  original: {} clusters with an original; right {} ({:.3}), unknown {}, wrong {}",
        r.originals,
        r.original_right,
        web::ratio(r.original_right, r.originals),
        r.original_unknown,
        r.original_wrong
    );
    println!(
        "  copies in clusters {}: called copy {}, called original {}",
        r.copies_total, r.copies_called_copy, r.copies_called_original
    );
    for (name, s) in [
        ("original-edited-after-copy", &r.stale_edit),
        ("original-deleted-copies-survive", &r.deleted),
        ("copy-altered", &r.altered),
    ] {
        println!(
            "  {name:<32} expected {:>5} fired {:>5} true {:>5} recall {:.3} precision {:.4}",
            s.expected,
            s.links,
            s.true_links,
            s.recall(),
            s.precision()
        );
    }
    println!(
        "  original-edited-after-copy fired for edits outside the copied span: {}",
        r.stale_edit_false_outside
    );
}

/// Every page of the corpus: `readability/*/source.html` and `extraction-dev/pages/*.html.gz`.
fn load(corpus: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(corpus.join("readability"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    for dir in names {
        if let Ok(bytes) = std::fs::read(dir.join("source.html")) {
            out.push(Source {
                name: dir.file_name().unwrap().to_string_lossy().into(),
                html: stet::pure::extract::decode(&bytes, None),
            });
        }
    }
    let mut pages: Vec<PathBuf> = std::fs::read_dir(corpus.join("extraction-dev/pages"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    pages.sort();
    for p in pages {
        let Ok(file) = std::fs::File::open(&p) else {
            continue;
        };
        let mut bytes = Vec::new();
        if flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .is_ok()
        {
            out.push(Source {
                name: p.file_name().unwrap().to_string_lossy().into(),
                html: stet::pure::extract::decode(&bytes, None),
            });
        }
    }
    out
}
