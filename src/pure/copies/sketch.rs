//! Word shingles of a canonical text and their MinHash sketch with LSH band keys.
//!
//! Owns the exact, versioned form of a sketch: words are the text's runs of alphanumeric
//! characters, lower-cased; a shingle is [`SHINGLE`] consecutive words hashed with FNV-1a (64
//! bits); the sketch keeps, for each of [`HASHES`] seeded mixes of the shingle hashes, the least
//! value's top 32 bits; band `b` is the key of values `2b` and `2b + 1`. A stored sketch stays
//! comparable as long as [`FORMAT`] does not change. Pure; never does I/O.

/// Words per shingle: long enough that common phrases ("said in a statement") rarely match,
/// short enough that one changed word in ten leaves most shingles of a copy intact.
pub const SHINGLE: usize = 5;
/// MinHash values per sketch.
pub const HASHES: usize = 128;
/// LSH bands; each holds `HASHES / BANDS` values. With two rows a band, a text holding 30% of
/// another's shingles (Jaccard 0.3) shares a band with it with probability 1 - (1 - 0.09)^64,
/// above 0.99; at Jaccard 0.1, 0.47.
pub const BANDS: usize = 64;
const ROWS: usize = HASHES / BANDS;
/// The first byte of a serialised sketch: the parameters above and the word and hash rules.
pub const FORMAT: u8 = 1;
/// Bytes of a serialised sketch.
pub const BYTES: usize = 1 + 4 + 4 * HASHES;

/// The MinHash sketch of one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sketch {
    /// Distinct shingles of the text: a text with fewer than the minimum never links.
    pub shingles: u32,
    pub mins: [u32; HASHES],
}

/// Why stored bytes are not a sketch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SketchError {
    #[error("sketch of {0} bytes, expected {BYTES}")]
    Length(usize),
    #[error("sketch format {0}, this build reads {FORMAT}")]
    Format(u8),
}

/// The words of a text as the sketch sees them: alphanumeric runs, lower-cased.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The hash of every shingle of `text`, in text order (with repeats).
pub fn shingle_hashes(text: &str) -> Vec<u64> {
    let words: Vec<u64> = words(text).map(|w| fnv1a(w.as_bytes())).collect();
    if words.len() < SHINGLE {
        return Vec::new();
    }
    words
        .windows(SHINGLE)
        .map(|window| {
            window
                .iter()
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, w| mix(h ^ w))
        })
        .collect()
}

impl Sketch {
    /// The sketch of a canonical text.
    pub fn of(text: &str) -> Self {
        let mut hashes = shingle_hashes(text);
        hashes.sort_unstable();
        hashes.dedup();
        Self::of_shingles(&hashes)
    }

    /// The sketch of a set of distinct shingle hashes.
    pub fn of_shingles(distinct: &[u64]) -> Self {
        let mut mins = [u32::MAX; HASHES];
        for &h in distinct {
            for (i, min) in mins.iter_mut().enumerate() {
                let v = (mix(h ^ SEEDS[i]) >> 32) as u32;
                if v < *min {
                    *min = v;
                }
            }
        }
        Self {
            shingles: distinct.len().min(u32::MAX as usize) as u32,
            mins,
        }
    }

    /// The band keys, one per band. The band's index is part of its key, so equal values in
    /// two different bands never meet.
    pub fn bands(&self) -> [u64; BANDS] {
        let mut keys = [0u64; BANDS];
        for (b, key) in keys.iter_mut().enumerate() {
            let mut h = mix(b as u64 ^ 0x9e37_79b9_7f4a_7c15);
            for r in 0..ROWS {
                h = mix(h ^ u64::from(self.mins[b * ROWS + r]));
            }
            *key = h;
        }
        keys
    }

    /// The share of equal MinHash values: an estimate of the two texts' Jaccard similarity.
    pub fn similarity(&self, other: &Sketch) -> f64 {
        let equal = self
            .mins
            .iter()
            .zip(&other.mins)
            .filter(|(a, b)| a == b && **a != u32::MAX)
            .count();
        equal as f64 / HASHES as f64
    }

    /// The sketch as stored: [`FORMAT`], the shingle count and the values, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(BYTES);
        out.push(FORMAT);
        out.extend_from_slice(&self.shingles.to_le_bytes());
        for v in &self.mins {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SketchError> {
        if bytes.len() != BYTES {
            return Err(SketchError::Length(bytes.len()));
        }
        if bytes[0] != FORMAT {
            return Err(SketchError::Format(bytes[0]));
        }
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let mut mins = [0u32; HASHES];
        for (i, v) in mins.iter_mut().enumerate() {
            *v = word(5 + 4 * i);
        }
        Ok(Self {
            shingles: word(1),
            mins,
        })
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The SplitMix64 finaliser: every input bit moves every output bit.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const SEEDS: [u64; HASHES] = {
    let mut seeds = [0u64; HASHES];
    let mut i = 0;
    while i < HASHES {
        seeds[i] = mix(0x5354_4554_0000_0000 + i as u64);
        i += 1;
    }
    seeds
};

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Troops leave the city\nThe troops left the city on Sunday morning, \
        officials said. Residents watched from balconies as the convoy passed the old market.";

    #[test]
    fn words_ignore_case_and_punctuation() {
        let w: Vec<String> = words("The troops, LEFT—on Sunday.").collect();
        assert_eq!(w, ["the", "troops", "left", "on", "sunday"]);
    }

    #[test]
    fn markup_of_the_same_words_gives_the_same_sketch() {
        let other = TEXT.replace(',', "").replace("Sunday", "SUNDAY");
        assert_eq!(Sketch::of(TEXT), Sketch::of(&other));
    }

    #[test]
    fn a_sketch_survives_its_bytes_and_fits_a_kilobyte() {
        let s = Sketch::of(TEXT);
        let bytes = s.to_bytes();
        assert_eq!(bytes.len(), BYTES);
        const { assert!(BYTES <= 1024) };
        assert_eq!(Sketch::from_bytes(&bytes).unwrap(), s);
        assert_eq!(
            Sketch::from_bytes(&bytes[1..]),
            Err(SketchError::Length(BYTES - 1))
        );
        let mut other = bytes.clone();
        other[0] = 9;
        assert_eq!(Sketch::from_bytes(&other), Err(SketchError::Format(9)));
    }

    #[test]
    fn the_sketch_estimates_jaccard() {
        // 200 shingles, half of them shared: Jaccard 1/3.
        let a: Vec<u64> = (0..200).collect();
        let b: Vec<u64> = (100..300).collect();
        let sim = Sketch::of_shingles(&a).similarity(&Sketch::of_shingles(&b));
        assert!((sim - 1.0 / 3.0).abs() < 0.12, "{sim}");
        let c: Vec<u64> = (1000..1200).collect();
        assert!(Sketch::of_shingles(&a).similarity(&Sketch::of_shingles(&c)) < 0.05);
    }

    #[test]
    fn the_format_is_stable() {
        // A stored sketch must mean the same to every later build: these values are the format.
        let s = Sketch::of(TEXT);
        assert_eq!(s.shingles, 21);
        assert_eq!(
            (s.mins[0], s.mins[HASHES - 1], s.bands()[0]),
            (92_818_027, 15_874_736, 6_314_561_579_012_973_695)
        );
        assert_eq!(shingle_hashes("a b c d").len(), 0);
        assert_eq!(shingle_hashes("a b c d e").len(), 1);
    }
}
