//! Checkpoints and offline proofs: the C2SP `tlog-checkpoint` text of the ledger's Merkle tree,
//! the C2SP `tlog-proof` of one entry, the witness `add-checkpoint` request body, and the
//! `stet proof` file that bundles them with a version's text and raw body.
//!
//! Owns these formats (documented in `docs/LEDGER.md`) and the rules that check a proof file
//! with nothing but the file and a public key. Pure: never reads the database nor the network;
//! `cli::proof` assembles a file from the store, `publish` sends checkpoints out.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::pure::ledger::{Entry, EntryKind};
use crate::pure::merkle;
use crate::pure::model::Sha256Hash;
use crate::pure::note::{Note, Verifier};

/// The first line of a C2SP tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The `format` of a `stet proof` file.
pub const PROOF_FORMAT: &str = "stet-proof/v1";

/// Why a checkpoint, a tlog-proof or a proof file does not parse or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofFileError {
    #[error("malformed checkpoint: {0}")]
    Checkpoint(String),
    #[error("malformed tlog-proof: {0}")]
    TlogProof(String),
    #[error("malformed proof file: {0}")]
    File(String),
    #[error("checkpoint signature: {0}")]
    Signature(#[from] crate::pure::note::NoteError),
    #[error("inclusion proof of entry {seq}: {source}")]
    Inclusion {
        seq: i64,
        source: merkle::ProofError,
    },
    #[error("{0}")]
    Mismatch(String),
}

/// A tree head: the log's name, how many entries, the Merkle root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Sha256Hash,
}

impl Checkpoint {
    /// The checkpoint's text (what is signed): origin, size and base64 root, one per line.
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        )
    }

    /// Reads the text of a checkpoint (the note's text, before the signatures).
    pub fn parse(text: &str) -> Result<Self, ProofFileError> {
        let bad = |m: &str| ProofFileError::Checkpoint(m.to_string());
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or(bad("no origin"))?;
        let size = lines.next().ok_or(bad("no tree size"))?;
        if size.is_empty() || (size.len() > 1 && size.starts_with('0')) {
            return Err(bad("the tree size is not a decimal without leading zeros"));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| bad("the tree size is not a number"))?;
        let root = lines.next().ok_or(bad("no root hash"))?;
        let root: [u8; 32] = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(bad("the root hash is not 32 bytes of base64"))?;
        if !text.ends_with('\n') {
            return Err(bad("the text does not end with a newline"));
        }
        Ok(Self {
            origin: origin.to_string(),
            size,
            root: Sha256Hash(root),
        })
    }

    /// The checkpoint of a signed note, after checking its signature by `key`.
    pub fn open(note: &str, key: &Verifier) -> Result<Self, ProofFileError> {
        let note = Note::parse(note)?;
        note.verify(key)?;
        let checkpoint = Self::parse(&note.text)?;
        if checkpoint.origin != key.name {
            return Err(ProofFileError::Checkpoint(format!(
                "the origin {:?} is not the key's name {:?}",
                checkpoint.origin, key.name
            )));
        }
        Ok(checkpoint)
    }
}

/// The Merkle tree of a ledger: one leaf per entry, the leaf data being the entry's encoding.
#[derive(Debug, Clone)]
pub struct Tree {
    pub leaves: Vec<Sha256Hash>,
}

impl Tree {
    pub fn of_entries(encoded: &[Vec<u8>]) -> Self {
        Self {
            leaves: encoded.iter().map(|e| merkle::leaf_hash(e)).collect(),
        }
    }

    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Sha256Hash {
        merkle::root(&self.leaves[..size.min(self.size()) as usize])
    }

    pub fn root(&self) -> Sha256Hash {
        merkle::root(&self.leaves)
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<Sha256Hash>, merkle::ProofError> {
        if size > self.size() {
            return Err(merkle::ProofError::SizeOrder {
                old: size,
                new: self.size(),
            });
        }
        merkle::inclusion_proof(&self.leaves[..size as usize], index)
    }

    /// The consistency proof from the tree of `old` leaves to the tree of `new` leaves.
    pub fn consistency(&self, old: u64, new: u64) -> Result<Vec<Sha256Hash>, merkle::ProofError> {
        if new > self.size() {
            return Err(merkle::ProofError::SizeOrder {
                old: new,
                new: self.size(),
            });
        }
        merkle::consistency_proof(&self.leaves[..new as usize], old)
    }
}

/// A C2SP tlog-proof: entry `index` (zero-based) is in the tree a checkpoint signs. Its extra
/// data is the entry's encoding, which the record hash is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub hashes: Vec<Sha256Hash>,
    /// The signed checkpoint, verbatim.
    pub checkpoint: String,
}

impl TlogProof {
    pub fn encode(&self) -> String {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            out.push_str(&B64.encode(h.0));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    pub fn parse(text: &str) -> Result<Self, ProofFileError> {
        let bad = |m: &str| ProofFileError::TlogProof(m.to_string());
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or(bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(bad("the first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut line = lines.next().ok_or(bad("no index line"))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(b64)
                    .map_err(|_| bad("the extra data is not base64"))?,
            );
            line = lines.next().ok_or(bad("no index line"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(|i| i.parse().ok())
            .ok_or(bad("no index line"))?;
        let hashes = lines
            .map(|l| {
                B64.decode(l)
                    .ok()
                    .and_then(|h| <[u8; 32]>::try_from(h).ok())
                    .map(Sha256Hash)
                    .ok_or(bad("a proof line is not a base64 SHA-256 hash"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_string(),
        })
    }
}

/// The body of a C2SP tlog-witness `add-checkpoint` request.
pub fn add_checkpoint_body(old: u64, proof: &[Sha256Hash], note: &str) -> String {
    let mut out = format!("old {old}\n");
    for h in proof {
        out.push_str(&B64.encode(h.0));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(note);
    out
}

/// An RFC 3161 timestamp of a checkpoint, as a proof file carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimestampRecord {
    pub tsa_url: String,
    /// The DER TimeStampToken, standard base64. Its message imprint is SHA-256 of the
    /// checkpoint's text (origin, size and root lines).
    pub token_base64: String,
}

/// A `stet proof` file: what one version of one article said, and the proof that the archive's
/// signed ledger holds it. JSON; documented in `docs/LEDGER.md`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofFile {
    /// Always [`PROOF_FORMAT`].
    pub format: String,
    pub url: String,
    pub version: i64,
    /// The key the checkpoint is signed with, for convenience: a checker decides which key it
    /// trusts (`stet verify-proof --key`).
    pub key: String,
    /// One C2SP tlog-proof per ledger entry that records the version (its `version` entry,
    /// then an `attest:version` entry when the version predates metadata in entries), all
    /// against the same signed checkpoint.
    pub entries: Vec<String>,
    /// RFC 3161 timestamp of the checkpoint, when a timestamp authority is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampRecord>,
    /// The version's canonical text: its SHA-256 is the entry's content hash.
    pub text: String,
    /// The raw response body, standard base64: its SHA-256 is the entry's body hash. Absent
    /// with `stet proof --no-body`; the entry still names the body's hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

/// What a proof file proves, once checked.
#[derive(Debug, Clone, Serialize)]
pub struct Proven {
    pub url: String,
    pub version: i64,
    pub captured_at: String,
    pub origin: String,
    pub tree_size: u64,
    pub root: Sha256Hash,
    pub content_hash: Sha256Hash,
    pub body_hash: Sha256Hash,
    pub body_included: bool,
    /// The version's metadata, as the entries commit to it (column, value).
    pub metadata: Vec<(String, Option<String>)>,
    /// The ledger entries checked, by seq.
    pub entries: Vec<i64>,
    /// Whether the checkpoint was checked against a key given by the checker (`true`), or only
    /// against the key the file names (`false`).
    pub key_given: bool,
    pub key: String,
    /// Witness signature lines on the checkpoint (not checked: their keys are not known here).
    pub cosignatures: Vec<String>,
    /// The timestamp authority's time (GeneralizedTime), when the file has a timestamp.
    pub timestamped_at: Option<String>,
}

/// Checks a proof file with nothing but itself and `key` (the file's own key when `None`).
pub fn check_file(file: &ProofFile, key: Option<&Verifier>) -> Result<Proven, ProofFileError> {
    let mismatch = |m: String| Err(ProofFileError::Mismatch(m));
    if file.format != PROOF_FORMAT {
        return Err(ProofFileError::File(format!(
            "format {:?}, not {PROOF_FORMAT:?}",
            file.format
        )));
    }
    let key_given = key.is_some();
    let own: Verifier = file.key.parse()?;
    let key = key.cloned().unwrap_or(own);
    if file.entries.is_empty() {
        return Err(ProofFileError::File("no entry".into()));
    }
    let mut checkpoint: Option<(String, Checkpoint)> = None;
    let mut entries: Vec<Entry> = Vec::new();
    for text in &file.entries {
        let p = TlogProof::parse(text)?;
        let cp = match &checkpoint {
            Some((note, cp)) if *note == p.checkpoint => cp.clone(),
            Some(_) => {
                return mismatch("the entries are proven against different checkpoints".into());
            }
            None => {
                let cp = Checkpoint::open(&p.checkpoint, &key)?;
                checkpoint = Some((p.checkpoint.clone(), cp.clone()));
                cp
            }
        };
        let data = p
            .extra
            .as_ref()
            .ok_or_else(|| ProofFileError::TlogProof("no extra data (the entry)".into()))?;
        let entry = crate::pure::ledger::decode(data).map_err(ProofFileError::File)?;
        if entry.seq < 1 || (entry.seq - 1) as u64 != p.index {
            return mismatch(format!(
                "the entry is entry {} but the proof is of index {}",
                entry.seq, p.index
            ));
        }
        merkle::verify_inclusion(
            p.index,
            cp.size,
            &merkle::leaf_hash(data),
            &p.hashes,
            &cp.root,
        )
        .map_err(|source| ProofFileError::Inclusion {
            seq: entry.seq,
            source,
        })?;
        entries.push(entry);
    }
    let (note, cp) = checkpoint.expect("at least one entry");
    let first = &entries[0].body;
    if first.kind != EntryKind::Version {
        return mismatch(format!(
            "the first entry is a {} entry, not a version",
            first.kind
        ));
    }
    for e in &entries {
        let b = &e.body;
        if !matches!(b.kind, EntryKind::Version | EntryKind::AttestVersion)
            || b.url != file.url
            || b.version.map(|v| v.0) != Some(file.version)
            || b.content_hash != first.content_hash
            || b.body_hash != first.body_hash
            || b.at != first.at
        {
            return mismatch(format!(
                "entry {} does not record v{} of {}",
                e.seq, file.version, file.url
            ));
        }
    }
    let content_hash = first
        .content_hash
        .ok_or_else(|| ProofFileError::File("the version entry has no content hash".into()))?;
    let body_hash = first
        .body_hash
        .ok_or_else(|| ProofFileError::File("the version entry has no body hash".into()))?;
    let text_hash = Sha256Hash::of(file.text.as_bytes());
    if text_hash != content_hash {
        return mismatch(format!(
            "the text hashes to {text_hash}, but the ledger entry says {content_hash}"
        ));
    }
    if let Some(b64) = &file.body_base64 {
        let body = B64
            .decode(b64)
            .map_err(|_| ProofFileError::File("body_base64 is not base64".into()))?;
        let h = Sha256Hash::of(&body);
        if h != body_hash {
            return mismatch(format!(
                "the raw body hashes to {h}, but the ledger entry says {body_hash}"
            ));
        }
    }
    let metadata = entries
        .iter()
        .rev()
        .find(|e| e.body.meta.is_some())
        .map(|e| {
            e.body
                .meta_pairs()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect()
        })
        .unwrap_or_default();
    let timestamped_at = match &file.timestamp {
        None => None,
        Some(t) => {
            let token = B64
                .decode(&t.token_base64)
                .map_err(|_| ProofFileError::File("the timestamp token is not base64".into()))?;
            let info = crate::pure::timestamp::token_info(&token)
                .map_err(|e| ProofFileError::File(format!("timestamp token: {e}")))?;
            let expected = Sha256Hash::of(cp.text().as_bytes());
            if info.imprint != expected.0 {
                return mismatch(
                    "the timestamp token is not of this checkpoint (its message imprint differs)"
                        .into(),
                );
            }
            Some(info.gen_time)
        }
    };
    let parsed = Note::parse(&note)?;
    let cosignatures = parsed
        .signatures
        .iter()
        .filter(|s| !s.starts_with(&format!("\u{2014} {} ", key.name)))
        .cloned()
        .collect();
    Ok(Proven {
        url: file.url.clone(),
        version: file.version,
        captured_at: first.at.clone(),
        origin: cp.origin.clone(),
        tree_size: cp.size,
        root: cp.root,
        content_hash,
        body_hash,
        body_included: file.body_base64.is_some(),
        metadata,
        entries: entries.iter().map(|e| e.seq).collect(),
        key_given,
        key: key.to_string(),
        cosignatures,
        timestamped_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_text_round_trips_and_rejects_leading_zeros() {
        let cp = Checkpoint {
            origin: "news.example/stet".into(),
            size: 12,
            root: Sha256Hash::of(b"r"),
        };
        assert_eq!(Checkpoint::parse(&cp.text()).unwrap(), cp);
        assert!(Checkpoint::parse(&cp.text().replace("\n12\n", "\n012\n")).is_err());
    }

    #[test]
    fn tlog_proof_round_trips() {
        let p = TlogProof {
            extra: Some(b"entry".to_vec()),
            index: 3,
            hashes: vec![Sha256Hash::of(b"a"), Sha256Hash::of(b"b")],
            checkpoint: "o\n4\nAAAA\n\n\u{2014} o abc\n".into(),
        };
        let text = p.encode();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra ZW50cnk=\nindex 3\n"));
        assert_eq!(TlogProof::parse(&text).unwrap(), p);
    }
}
