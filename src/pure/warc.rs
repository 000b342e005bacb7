//! WARC 1.1 records for stored versions: what `stet export --format warc` writes.
//!
//! Owns the record layout: one `warcinfo` record, then for each version a `request` record and
//! a `response` record (an `application/http` block whose payload is the raw body exactly as
//! stored), each with `WARC-Block-Digest` and, for responses, `WARC-Payload-Digest` (SHA-256,
//! hex, so the payload digest equals stet's body hash). Pure: writes to any `Write`, never opens
//! files or the database.
//!
//! stet stores the raw body and the status, not the original HTTP headers; the response header
//! block is therefore rebuilt (status line, `Content-Type: text/html`, `Content-Length`) and the
//! request is the GET stet sends. Both say so in a `WARC-Stet-Note` field.

use std::io::{self, Write};

use crate::pure::model::Sha256Hash;

/// One stored version, as the WARC writer needs it.
pub struct Capture<'a> {
    pub target_uri: &'a str,
    /// RFC 3339 UTC, as stored.
    pub date: &'a str,
    pub http_status: u16,
    pub body: &'a [u8],
    pub body_hash: &'a Sha256Hash,
    pub content_hash: &'a Sha256Hash,
    pub ledger_entry: Option<(i64, &'a Sha256Hash)>,
    pub user_agent: &'a str,
    /// The version's `stet proof` file (JSON, without the body, which the response holds),
    /// written as a `metadata` record that refers to the response.
    pub proof: Option<&'a [u8]>,
}

const NOTE: &str = "HTTP headers rebuilt by stet from the stored status and body";

/// Writes the `warcinfo` record that opens a file.
pub fn write_warcinfo(w: &mut impl Write, date: &str, filename: &str) -> io::Result<()> {
    let block = format!(
        "software: stet/{}\r\nformat: WARC File Format 1.1\r\n\
         conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let id = record_id(&["warcinfo", filename, date]);
    write_record(
        w,
        &[
            ("WARC-Type", "warcinfo"),
            ("WARC-Record-ID", &id),
            ("WARC-Date", date),
            ("WARC-Filename", filename),
            ("Content-Type", "application/warc-fields"),
        ],
        block.as_bytes(),
    )
}

/// Writes a version's `request` and `response` records, and its proof's `metadata` record.
pub fn write_capture(w: &mut impl Write, c: &Capture<'_>) -> io::Result<()> {
    let response_id = record_id(&["response", c.target_uri, c.date, &c.body_hash.to_hex()]);
    let request_id = record_id(&["request", c.target_uri, c.date, &c.body_hash.to_hex()]);
    let payload_digest = format!("sha256:{}", c.body_hash.to_hex());
    let content_hash = c.content_hash.to_hex();
    let entry = c
        .ledger_entry
        .map(|(seq, hash)| format!("{seq}:{hash}"))
        .unwrap_or_default();

    let mut response = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n",
        c.http_status,
        reason(c.http_status),
        c.body.len()
    )
    .into_bytes();
    response.extend_from_slice(c.body);
    let mut fields = vec![
        ("WARC-Type", "response"),
        ("WARC-Record-ID", response_id.as_str()),
        ("WARC-Date", c.date),
        ("WARC-Target-URI", c.target_uri),
        ("WARC-Concurrent-To", request_id.as_str()),
        ("WARC-Payload-Digest", payload_digest.as_str()),
        ("WARC-Stet-Content-Hash", content_hash.as_str()),
        ("WARC-Stet-Note", NOTE),
        ("Content-Type", "application/http; msgtype=response"),
    ];
    if !entry.is_empty() {
        fields.push(("WARC-Stet-Ledger-Entry", entry.as_str()));
    }
    write_record(w, &fields, &response)?;

    let request = request_block(c.target_uri, c.user_agent);
    write_record(
        w,
        &[
            ("WARC-Type", "request"),
            ("WARC-Record-ID", &request_id),
            ("WARC-Date", c.date),
            ("WARC-Target-URI", c.target_uri),
            ("WARC-Concurrent-To", &response_id),
            ("WARC-Stet-Note", NOTE),
            ("Content-Type", "application/http; msgtype=request"),
        ],
        request.as_bytes(),
    )?;
    if let Some(proof) = c.proof {
        let metadata_id = record_id(&["metadata", c.target_uri, c.date, &c.body_hash.to_hex()]);
        write_record(
            w,
            &[
                ("WARC-Type", "metadata"),
                ("WARC-Record-ID", &metadata_id),
                ("WARC-Date", c.date),
                ("WARC-Target-URI", c.target_uri),
                ("WARC-Refers-To", &response_id),
                ("WARC-Concurrent-To", &response_id),
                (
                    "WARC-Stet-Note",
                    "stet proof of this version (docs/LEDGER.md): stet verify-proof checks it",
                ),
                ("Content-Type", "application/json"),
            ],
            proof,
        )?;
    }
    Ok(())
}

fn request_block(target: &str, user_agent: &str) -> String {
    let (host, path) = match url::Url::parse(target) {
        Ok(u) => {
            let host = match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                _ => String::new(),
            };
            let mut path = u.path().to_string();
            if let Some(q) = u.query() {
                path.push('?');
                path.push_str(q);
            }
            (host, path)
        }
        Err(_) => (String::new(), "/".to_string()),
    };
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\n\r\n")
}

/// A record: version line, fields, `WARC-Block-Digest`, `Content-Length`, a blank line, the
/// block, and the two CRLFs that end every record.
fn write_record(w: &mut impl Write, fields: &[(&str, &str)], block: &[u8]) -> io::Result<()> {
    let mut head = String::from("WARC/1.1\r\n");
    for (name, value) in fields {
        head.push_str(&format!("{name}: {}\r\n", one_line(value)));
    }
    head.push_str(&format!(
        "WARC-Block-Digest: sha256:{}\r\nContent-Length: {}\r\n\r\n",
        Sha256Hash::of(block).to_hex(),
        block.len()
    ));
    w.write_all(head.as_bytes())?;
    w.write_all(block)?;
    w.write_all(b"\r\n\r\n")
}

fn one_line(value: &str) -> String {
    value.replace(['\r', '\n'], " ")
}

/// A deterministic `urn:uuid` (version 8, RFC 9562) from the SHA-256 of `parts`, so exporting
/// the same archive twice gives the same file.
fn record_id(parts: &[&str]) -> String {
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend_from_slice(&(p.len() as u32).to_be_bytes());
        bytes.extend_from_slice(p.as_bytes());
    }
    let mut u = Sha256Hash::of(&bytes).0;
    u[6] = (u[6] & 0x0f) | 0x80;
    u[8] = (u[8] & 0x3f) | 0x80;
    let h = hex::encode(&u[..16]);
    format!(
        "<urn:uuid:{}-{}-{}-{}-{}>",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        203 => "Non-Authoritative Information",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_record_declares_its_length_and_digests() {
        let body = b"<html><p>Hello</p></html>";
        let hash = Sha256Hash::of(body);
        let mut out = Vec::new();
        write_capture(
            &mut out,
            &Capture {
                target_uri: "http://127.0.0.1:8080/a?b=1",
                date: "2026-01-02T03:04:05.678Z",
                http_status: 200,
                body,
                body_hash: &hash,
                content_hash: &hash,
                ledger_entry: Some((3, &hash)),
                user_agent: "stet/0",
                proof: None,
            },
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("WARC/1.1\r\nWARC-Type: response\r\n"),
            "{text}"
        );
        assert!(text.contains(&format!("WARC-Payload-Digest: sha256:{hash}\r\n")));
        assert!(text.contains("GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        let block_start = text.find("\r\n\r\n").unwrap() + 4;
        let declared: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let block = &text.as_bytes()[block_start..block_start + declared];
        assert!(block.ends_with(body));
        assert_eq!(&text.as_bytes()[block_start + declared..][..4], b"\r\n\r\n");
    }

    #[test]
    fn record_ids_are_uuids_and_deterministic() {
        let a = record_id(&["x", "y"]);
        assert_eq!(a, record_id(&["x", "y"]));
        assert_ne!(a, record_id(&["xy", ""]));
        assert_eq!(a.len(), "<urn:uuid:>".len() + 36);
        assert_eq!(&a[24..25], "8");
    }
}
