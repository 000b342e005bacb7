//! Candidate lookup by LSH bands, and the containment check that turns a candidate into a link.
//!
//! Owns [`CopyIndex`], the in-memory index of sketches (the store's index answers the same
//! `insert` and `candidates`), [`Shingled`] (a text's distinct shingles, with where each one
//! sits), [`Thresholds`] and [`verify`]: the share of the shorter text's shingles that the
//! longer one holds, above a minimum length, so a shared quote or disclaimer never links two
//! articles. Pure; never does I/O.

use std::collections::BTreeSet;

#[cfg(test)]
use super::sketch::BANDS;
use super::sketch::{self, Sketch};

/// An index of sketches by their band keys, answering which indexed texts may share a copy with
/// a new one. Compact: one `u64` per band per text (32 bits of the band key, 32 of the slot).
#[derive(Debug, Clone)]
pub struct CopyIndex<Id> {
    /// Sorted `(key << 32) | slot`.
    main: Vec<u64>,
    /// Entries not yet merged into `main`, sorted by the set.
    pending: BTreeSet<u64>,
    ids: Vec<Id>,
}

/// A text the index says may share shingles with the one looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<Id> {
    pub id: Id,
    /// Bands in common, out of [`BANDS`](super::sketch::BANDS): more is likelier.
    pub bands: u32,
}

impl<Id: Copy> Default for CopyIndex<Id> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Id: Copy> CopyIndex<Id> {
    pub fn new() -> Self {
        Self {
            main: Vec::new(),
            pending: BTreeSet::new(),
            ids: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Indexes one text's sketch under `id`.
    pub fn insert(&mut self, id: Id, sketch: &Sketch) {
        let slot = self.ids.len() as u64;
        self.ids.push(id);
        for key in sketch.bands() {
            self.pending.insert(entry(key, slot));
        }
        if self.pending.len() > (self.main.len() / 8).max(1 << 16) {
            self.merge();
        }
    }

    /// Indexes many sketches at once (one sort instead of a merge per batch).
    pub fn extend<'a>(&mut self, items: impl IntoIterator<Item = (Id, &'a Sketch)>) {
        self.merge();
        for (id, sketch) in items {
            let slot = self.ids.len() as u64;
            self.ids.push(id);
            self.main
                .extend(sketch.bands().iter().map(|&key| entry(key, slot)));
        }
        self.main.sort_unstable();
    }

    fn merge(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut merged = Vec::with_capacity(self.main.len() + pending.len());
        let mut old = self.main.iter().copied().peekable();
        for p in pending {
            while let Some(&m) = old.peek() {
                if m >= p {
                    break;
                }
                merged.push(m);
                old.next();
            }
            merged.push(p);
        }
        merged.extend(old);
        self.main = merged;
    }

    /// The indexed texts sharing at least one band with `sketch`, most bands first.
    pub fn candidates(&self, sketch: &Sketch) -> Vec<Candidate<Id>> {
        let mut slots: Vec<u32> = Vec::new();
        for key in sketch.bands() {
            let lo = entry(key, 0);
            let hi = lo | 0xffff_ffff;
            let start = self.main.partition_point(|&e| e < lo);
            slots.extend(
                self.main[start..]
                    .iter()
                    .take_while(|&&e| e <= hi)
                    .map(|&e| e as u32),
            );
            slots.extend(self.pending.range(lo..=hi).map(|&e| e as u32));
        }
        slots.sort_unstable();
        let mut out: Vec<Candidate<Id>> = Vec::new();
        let mut i = 0;
        while i < slots.len() {
            let j = i + slots[i..].iter().take_while(|&&s| s == slots[i]).count();
            out.push(Candidate {
                id: self.ids[slots[i] as usize],
                bands: (j - i) as u32,
            });
            i = j;
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.bands));
        out
    }
}

fn entry(key: u64, slot: u64) -> u64 {
    (key & 0xffff_ffff_0000_0000) | (slot & 0xffff_ffff)
}

/// When two texts are the same article: chosen by measurement on the generated web of
/// `examples/copies_web` (see README, "Copies").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// The least share of the shorter text's shingles found in the longer one.
    pub containment: f64,
    /// The least number of distinct shingles the shorter text has: shorter texts never link.
    pub min_shingles: usize,
    /// The least number of shingles the two share.
    pub min_shared: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            containment: 0.5,
            min_shingles: 60,
            min_shared: 50,
        }
    }
}

/// A text's distinct shingles, sorted, each with the word position of its first occurrence.
#[derive(Debug, Clone)]
pub struct Shingled {
    /// `(hash, first word index)`, sorted by hash.
    shingles: Vec<(u64, u32)>,
    words: usize,
}

impl Shingled {
    pub fn of(text: &str) -> Self {
        let hashes = sketch::shingle_hashes(text);
        let words = sketch::words(text).count();
        let mut shingles: Vec<(u64, u32)> = hashes
            .iter()
            .enumerate()
            .map(|(i, &h)| (h, i as u32))
            .collect();
        shingles.sort_unstable();
        shingles.dedup_by_key(|s| s.0);
        Self { shingles, words }
    }

    /// Distinct shingles.
    pub fn len(&self) -> usize {
        self.shingles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shingles.is_empty()
    }

    pub fn words(&self) -> usize {
        self.words
    }

    pub fn sketch(&self) -> Sketch {
        let hashes: Vec<u64> = self.shingles.iter().map(|s| s.0).collect();
        Sketch::of_shingles(&hashes)
    }
}

/// Two texts found to hold the same article.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overlap {
    /// The share of the shorter text's shingles the longer one holds.
    pub containment: f64,
    /// Shingles in common.
    pub shared: usize,
    /// Whether `a` is the shorter text (the one contained).
    pub a_shorter: bool,
    /// The words of `a` and of `b` that the shared text covers, as `[start, end)`.
    pub span_a: (u32, u32),
    pub span_b: (u32, u32),
}

/// Whether `a` and `b` hold the same article, by containment of the shorter in the longer.
pub fn verify(a: &Shingled, b: &Shingled, t: &Thresholds) -> Option<Overlap> {
    let a_shorter = a.len() <= b.len();
    let shorter = a.len().min(b.len());
    if shorter < t.min_shingles.max(1) {
        return None;
    }
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.shingles.len() && j < b.shingles.len() {
        let (x, y) = (a.shingles[i], b.shingles[j]);
        match x.0.cmp(&y.0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                pa.push(x.1);
                pb.push(y.1);
                i += 1;
                j += 1;
            }
        }
    }
    let shared = pa.len();
    let containment = shared as f64 / shorter as f64;
    if shared < t.min_shared || containment < t.containment {
        return None;
    }
    Some(Overlap {
        containment,
        shared,
        a_shorter,
        span_a: span(pa),
        span_b: span(pb),
    })
}

/// The words covered by shared shingles in runs: positions closer than [`RUN_GAP`] words form
/// a run, and only runs of [`RUN_SHINGLES`] or more count, so a common phrase elsewhere in the
/// text does not stretch the span over an unrelated part of it (a merged post's other half).
fn span(mut positions: Vec<u32>) -> (u32, u32) {
    positions.sort_unstable();
    let mut kept: Option<(u32, u32)> = None;
    let mut i = 0;
    while i < positions.len() {
        let mut j = i + 1;
        while j < positions.len() && positions[j] - positions[j - 1] <= RUN_GAP {
            j += 1;
        }
        if j - i >= RUN_SHINGLES {
            let run = (positions[i], positions[j - 1] + sketch::SHINGLE as u32);
            kept = Some(kept.map_or(run, |k| (k.0, run.1)));
        }
        i = j;
    }
    kept.unwrap_or((0, 0))
}

/// Shared shingles further apart than this many words are in different runs.
const RUN_GAP: u32 = 4 * sketch::SHINGLE as u32;
/// The least shared shingles of a run that counts for the span.
const RUN_SHINGLES: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    fn text(seed: u64, words: usize) -> String {
        (0..words)
            .map(|i| format!("w{}", sketch::mix(seed * 100_000 + i as u64) % 5000))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_copy_is_found_and_verified_and_an_unrelated_text_is_not() {
        let original = text(1, 600);
        let copy = original.split(' ').take(250).collect::<Vec<_>>().join(" ");
        let mut index = CopyIndex::new();
        index.insert(1u32, &Sketch::of(&original));
        index.insert(2u32, &Sketch::of(&text(2, 600)));
        let found: Vec<u32> = index
            .candidates(&Sketch::of(&copy))
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(found, [1]);
        let o = verify(
            &Shingled::of(&copy),
            &Shingled::of(&original),
            &Thresholds::default(),
        )
        .unwrap();
        assert!(o.a_shorter);
        assert!(o.containment > 0.99, "{o:?}");
        assert_eq!(o.span_b, (0, 250));
        assert!(
            verify(
                &Shingled::of(&copy),
                &Shingled::of(&text(2, 600)),
                &Thresholds::default()
            )
            .is_none()
        );
    }

    #[test]
    fn a_repost_inside_a_long_page_has_low_jaccard_but_links() {
        let original = text(3, 300);
        let page = format!("{} {} {}", text(4, 500), original, text(5, 500));
        let (a, b) = (Shingled::of(&original), Shingled::of(&page));
        assert!(a.sketch().similarity(&b.sketch()) < 0.4);
        let o = verify(&a, &b, &Thresholds::default()).unwrap();
        assert!(o.containment > 0.99);
        assert_eq!(o.span_b, (500, 800));
    }

    #[test]
    fn a_shared_quote_never_links_two_articles() {
        let quote = text(6, 40);
        let a = format!("{} {quote}", text(7, 400));
        let b = format!("{quote} {}", text(8, 400));
        assert!(verify(&Shingled::of(&a), &Shingled::of(&b), &Thresholds::default()).is_none());
        // A short text wholly inside a long one is still too short to be an article's copy.
        assert!(
            verify(
                &Shingled::of(&quote),
                &Shingled::of(&a),
                &Thresholds::default()
            )
            .is_none()
        );
    }

    #[test]
    fn inserts_and_a_bulk_load_answer_alike() {
        let sketches: Vec<Sketch> = (0..300).map(|s| Sketch::of(&text(s, 200))).collect();
        let mut one_by_one = CopyIndex::new();
        for (i, s) in sketches.iter().enumerate() {
            one_by_one.insert(i, s);
        }
        let mut bulk = CopyIndex::new();
        bulk.extend(sketches.iter().enumerate());
        for (i, s) in sketches.iter().enumerate() {
            let a = one_by_one.candidates(s);
            assert_eq!(a, bulk.candidates(s));
            assert_eq!(
                a[0],
                Candidate {
                    id: i,
                    bands: BANDS as u32
                }
            );
        }
    }
}
