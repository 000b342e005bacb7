//! Signed notes (C2SP `signed-note`, as Go's `golang.org/x/mod/sumdb/note` reads them) with
//! Ed25519 keys: the signer key file, the verifier key string, signing and verifying a note.
//!
//! Owns the key and note encodings: a signer key is `PRIVATE+KEY+<name>+<hash>+<base64>`, a
//! verifier key `<name>+<hash>+<base64>`, where the base64 holds the algorithm byte `0x01`
//! then the 32-byte seed (signer) or public key (verifier), and `<hash>` is 8 hex digits of the
//! first 4 bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`. A note is its text (ending in a
//! newline), an empty line, then one `— <name> <base64(key hash ‖ signature)>` line per
//! signature. Pure: reads and writes strings; the CLI reads and writes the files.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::pure::model::Sha256Hash;

/// The algorithm byte of Ed25519 keys in signed notes.
const ALG_ED25519: u8 = 0x01;

/// The em dash that starts a signature line.
const DASH: &str = "\u{2014}";

/// Why a key or a note is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed signer key (expected PRIVATE+KEY+<name>+<hash>+<base64>)")]
    SignerKey,
    #[error("malformed verifier key {0:?} (expected <name>+<hash>+<base64>)")]
    VerifierKey(String),
    #[error("key name {0:?} must be non-empty, without spaces or '+'")]
    Name(String),
    #[error("the key's hash does not match its name and public key")]
    KeyHash,
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    #[error("the note has no signature by {name} (key hash {hash:08x})")]
    Unsigned { name: String, hash: u32 },
    #[error("the signature by {0} does not verify: the note was altered or signed by another key")]
    BadSignature(String),
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::Name(name.to_string()));
    }
    Ok(())
}

fn key_hash(name: &str, public: &VerifyingKey) -> u32 {
    let mut data = Vec::with_capacity(name.len() + 34);
    data.extend_from_slice(name.as_bytes());
    data.push(b'\n');
    data.push(ALG_ED25519);
    data.extend_from_slice(public.as_bytes());
    let h = Sha256Hash::of(&data);
    u32::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3]])
}

/// A private Ed25519 signing key with its name.
pub struct Signer {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.name)
    }
}

impl Signer {
    /// A new key named `name` from 32 random bytes.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Reads the signer key format (`PRIVATE+KEY+<name>+<hash>+<base64>`).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::SignerKey)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::SignerKey);
        };
        check_name(name)?;
        let raw = B64.decode(b64).map_err(|_| NoteError::SignerKey)?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(NoteError::SignerKey);
        }
        let seed: [u8; 32] = raw[1..].try_into().map_err(|_| NoteError::SignerKey)?;
        let signer = Self::from_seed(name, seed)?;
        if u32::from_str_radix(hash, 16).ok() != Some(signer.verifier().hash) || hash.len() != 8 {
            return Err(NoteError::KeyHash);
        }
        Ok(signer)
    }

    /// The signer key text, for the key file.
    pub fn encode(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.verifier().hash,
            B64.encode(raw)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half.
    pub fn verifier(&self) -> Verifier {
        let public = self.key.verifying_key();
        Verifier {
            hash: key_hash(&self.name, &public),
            name: self.name.clone(),
            key: public,
        }
    }

    /// The note of `text` (which must end in a newline) with this key's signature.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::Malformed("the text must end with a newline"));
        }
        Ok(format!("{text}\n{}\n", self.signature_line(text)))
    }

    /// One signature line over `text`: `— <name> <base64>`.
    pub fn signature_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut raw = self.verifier().hash.to_be_bytes().to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        format!("{DASH} {} {}", self.name, B64.encode(raw))
    }
}

/// A public Ed25519 key with its name, as a verifier key string names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    pub name: String,
    pub hash: u32,
    key: VerifyingKey,
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.hash, B64.encode(raw))
    }
}

impl std::str::FromStr for Verifier {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || NoteError::VerifierKey(s.to_string());
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(hash), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        check_name(name)?;
        let raw = B64.decode(b64).map_err(|_| bad())?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 || hash.len() != 8 {
            return Err(bad());
        }
        let bytes: [u8; 32] = raw[1..].try_into().map_err(|_| bad())?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
        let expected = key_hash(name, &key);
        if u32::from_str_radix(hash, 16).ok() != Some(expected) {
            return Err(NoteError::KeyHash);
        }
        Ok(Self {
            name: name.to_string(),
            hash: expected,
            key,
        })
    }
}

/// A note split into its text and signature lines (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The signature lines, each `— <name> <base64>`, without the newline.
    pub signatures: Vec<String>,
}

impl Note {
    /// Splits a note: text, an empty line, signature lines.
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        let sep = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no empty line before the signatures"))?;
        let text = &note[..=sep];
        let sigs = &note[sep + 2..];
        if !sigs.ends_with('\n') {
            return Err(NoteError::Malformed(
                "the last line does not end in a newline",
            ));
        }
        let signatures: Vec<String> = sigs.lines().map(str::to_string).collect();
        if signatures.is_empty() {
            return Err(NoteError::Malformed("no signature"));
        }
        for line in &signatures {
            if !line.starts_with(&format!("{DASH} ")) {
                return Err(NoteError::Malformed(
                    "a signature line does not start with —",
                ));
            }
        }
        Ok(Self {
            text: text.to_string(),
            signatures,
        })
    }

    /// Checks the signature by `verifier`; other signatures (witnesses) are ignored.
    pub fn verify(&self, verifier: &Verifier) -> Result<(), NoteError> {
        let unsigned = || NoteError::Unsigned {
            name: verifier.name.clone(),
            hash: verifier.hash,
        };
        let mut found = false;
        for line in &self.signatures {
            let rest = &line[DASH.len() + 1..];
            let Some((name, b64)) = rest.rsplit_once(' ') else {
                continue;
            };
            if name != verifier.name {
                continue;
            }
            let Ok(raw) = B64.decode(b64) else { continue };
            if raw.len() != 68 || raw[..4] != verifier.hash.to_be_bytes() {
                continue;
            }
            found = true;
            let sig = ed25519_dalek::Signature::from_slice(&raw[4..])
                .map_err(|_| NoteError::BadSignature(name.to_string()))?;
            if verifier
                .key
                .verify_strict(self.text.as_bytes(), &sig)
                .is_ok()
            {
                return Ok(());
            }
        }
        if found {
            Err(NoteError::BadSignature(verifier.name.clone()))
        } else {
            Err(unsigned())
        }
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.text)?;
        for s in &self.signatures {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::from_seed("news.example/stet", [7; 32]).unwrap()
    }

    #[test]
    fn keys_round_trip_through_their_text_forms() {
        let s = signer();
        let again = Signer::parse(&s.encode()).unwrap();
        assert_eq!(again.verifier(), s.verifier());
        let v: Verifier = s.verifier().to_string().parse().unwrap();
        assert_eq!(v, s.verifier());
        assert!(s.verifier().to_string().starts_with("news.example/stet+"));
        // A key whose hash was altered is refused.
        let text = s.verifier().to_string();
        let mut parts: Vec<&str> = text.splitn(3, '+').collect();
        parts[1] = "00000000";
        assert!(parts.join("+").parse::<Verifier>().is_err());
    }

    #[test]
    fn go_sumdb_note_known_answer() {
        // The example key pair from golang.org/x/mod/sumdb/note's documentation.
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let s = Signer::parse(skey).unwrap();
        assert_eq!(s.verifier().to_string(), vkey);
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        let signed = s.sign(text).unwrap();
        assert_eq!(
            signed,
            format!(
                "{text}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            )
        );
        let note = Note::parse(&signed).unwrap();
        note.verify(&vkey.parse().unwrap()).unwrap();
    }

    #[test]
    fn an_altered_note_or_another_key_is_refused() {
        let s = signer();
        let signed = s.sign("origin\n3\nAAAA\n").unwrap();
        let note = Note::parse(&signed).unwrap();
        note.verify(&s.verifier()).unwrap();
        let altered = Note::parse(&signed.replace("\n3\n", "\n4\n")).unwrap();
        assert!(matches!(
            altered.verify(&s.verifier()),
            Err(NoteError::BadSignature(_))
        ));
        let other = Signer::from_seed("news.example/stet", [8; 32]).unwrap();
        assert!(matches!(
            note.verify(&other.verifier()),
            Err(NoteError::Unsigned { .. })
        ));
    }
}
