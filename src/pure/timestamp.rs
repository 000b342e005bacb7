//! RFC 3161 timestamps: the request stet sends a timestamp authority, and what it reads back
//! from the reply and the token (status, message imprint, time).
//!
//! Owns the few DER structures involved, written and walked by hand: a `TimeStampReq` over a
//! SHA-256 digest with a nonce and `certReq`, the `TimeStampResp` status and token, and the
//! token's `TSTInfo` (message imprint, `genTime`). It never checks the authority's signature or
//! certificates: that is for whoever relies on the token (`openssl ts -verify`, see
//! `docs/LEDGER.md`). Pure: the HTTP request is made by `publish`.

/// DER of the SHA-256 AlgorithmIdentifier (OID 2.16.840.1.101.3.4.2.1 with NULL parameters).
const SHA256_ALG: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
];

/// The MIME type of a request body.
pub const QUERY_TYPE: &str = "application/timestamp-query";

/// Why a reply or token cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("malformed DER: {0}")]
    Der(&'static str),
    #[error("the timestamp authority refused the request (PKIStatus {0})")]
    Refused(i64),
    #[error("the reply holds no token")]
    NoToken,
    #[error("the token's nonce is not the request's")]
    Nonce,
}

fn der_len(n: usize, out: &mut Vec<u8>) {
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

/// A positive DER INTEGER of these big-endian bytes.
fn integer(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::new();
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(&trimmed);
    tlv(0x02, &content)
}

/// A `TimeStampReq` (version 1) for `digest` (SHA-256), with `nonce`, asking for the
/// authority's certificate in the token.
pub fn request(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    let mut imprint = SHA256_ALG.to_vec();
    imprint.extend(tlv(0x04, digest));
    let mut body = integer(&[1]);
    body.extend(tlv(0x30, &imprint));
    body.extend(integer(&nonce.to_be_bytes()));
    body.extend(tlv(0x01, &[0xff]));
    tlv(0x30, &body)
}

/// One DER element: its tag, its content, and its whole encoding.
struct Element<'a> {
    tag: u8,
    content: &'a [u8],
    whole: &'a [u8],
}

fn read(input: &[u8]) -> Result<(Element<'_>, &[u8]), TimestampError> {
    let short = TimestampError::Der("truncated element");
    let tag = *input.first().ok_or(short.clone())?;
    let first = *input.get(1).ok_or(short.clone())?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err(TimestampError::Der("unsupported length"));
        }
        let bytes = input.get(2..2 + n).ok_or(short.clone())?;
        (
            bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize),
            2 + n,
        )
    };
    let end = header.checked_add(len).ok_or(short.clone())?;
    let whole = input.get(..end).ok_or(short)?;
    Ok((
        Element {
            tag,
            content: &whole[header..],
            whole,
        },
        &input[end..],
    ))
}

fn children(content: &[u8]) -> Result<Vec<Element<'_>>, TimestampError> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (e, r) = read(rest)?;
        out.push(e);
        rest = r;
    }
    Ok(out)
}

fn int_value(e: &Element<'_>) -> Result<i64, TimestampError> {
    if e.tag != 0x02 || e.content.is_empty() || e.content.len() > 8 {
        return Err(TimestampError::Der("expected a small INTEGER"));
    }
    let neg = e.content[0] & 0x80 != 0;
    Ok(e.content
        .iter()
        .fold(if neg { -1i64 } else { 0 }, |acc, b| (acc << 8) | *b as i64))
}

/// Reads a `TimeStampResp`: the DER token when the status is granted (0) or granted with
/// modifications (1).
pub fn reply_token(reply: &[u8]) -> Result<Vec<u8>, TimestampError> {
    let (resp, _) = read(reply)?;
    let parts = children(resp.content)?;
    let status = parts.first().ok_or(TimestampError::Der("no status"))?;
    let code = int_value(
        children(status.content)?
            .first()
            .ok_or(TimestampError::Der("no PKIStatus"))?,
    )?;
    if code != 0 && code != 1 {
        return Err(TimestampError::Refused(code));
    }
    Ok(parts.get(1).ok_or(TimestampError::NoToken)?.whole.to_vec())
}

/// What a token says, read without checking its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The hashed message of the message imprint.
    pub imprint: [u8; 32],
    /// The authority's time, as a GeneralizedTime string (`20260101120000Z`).
    pub gen_time: String,
    pub nonce: Option<Vec<u8>>,
}

/// Reads the `TSTInfo` inside a token (a CMS SignedData ContentInfo).
pub fn token_info(token: &[u8]) -> Result<TokenInfo, TimestampError> {
    let der = TimestampError::Der;
    let (content_info, _) = read(token)?;
    let ci = children(content_info.content)?;
    let explicit = ci.get(1).ok_or(der("no SignedData"))?;
    let (signed_data, _) = read(explicit.content)?;
    let sd = children(signed_data.content)?;
    // version, digestAlgorithms, encapContentInfo, ...
    let encap = sd.get(2).ok_or(der("no encapContentInfo"))?;
    let encap = children(encap.content)?;
    let econtent = encap.get(1).ok_or(der("no eContent"))?;
    let (octets, _) = read(econtent.content)?;
    if octets.tag != 0x04 {
        return Err(der("eContent is not an OCTET STRING"));
    }
    let (tst, _) = read(octets.content)?;
    let fields = children(tst.content)?;
    // version, policy, messageImprint, serialNumber, genTime, [accuracy], [ordering], [nonce]
    let imprint = fields.get(2).ok_or(der("no messageImprint"))?;
    let imprint = children(imprint.content)?;
    let hashed = imprint.get(1).ok_or(der("no hashedMessage"))?;
    let imprint: [u8; 32] = hashed
        .content
        .try_into()
        .map_err(|_| der("the imprint is not a SHA-256 digest"))?;
    let gen_time = fields.get(4).ok_or(der("no genTime"))?;
    if gen_time.tag != 0x18 {
        return Err(der("genTime is not a GeneralizedTime"));
    }
    let nonce = fields[5..]
        .iter()
        .find(|f| f.tag == 0x02)
        .map(|f| f.content.to_vec());
    Ok(TokenInfo {
        imprint,
        gen_time: String::from_utf8_lossy(gen_time.content).into_owned(),
        nonce,
    })
}

/// Checks that a token answers a request with `nonce` for `digest`.
pub fn check_token(
    token: &[u8],
    digest: &[u8; 32],
    nonce: u64,
) -> Result<TokenInfo, TimestampError> {
    let info = token_info(token)?;
    if info.imprint != *digest {
        return Err(TimestampError::Der("the token is of another digest"));
    }
    let expected = integer(&nonce.to_be_bytes());
    let (e, _) = read(&expected)?;
    if info.nonce.as_deref() != Some(e.content) {
        return Err(TimestampError::Nonce);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_the_der_openssl_writes() {
        // `openssl ts -query -digest <32 x 0x11> -sha256 -cert` without its nonce has this
        // shape; ours adds the nonce before certReq.
        let req = request(&[0x11; 32], 0x0102);
        let (top, rest) = read(&req).unwrap();
        assert!(rest.is_empty());
        let parts = children(top.content).unwrap();
        assert_eq!(int_value(&parts[0]).unwrap(), 1);
        assert_eq!(&parts[1].content[..15], &SHA256_ALG);
        assert_eq!(parts[1].content[15..17], [0x04, 0x20]);
        assert_eq!(int_value(&parts[2]).unwrap(), 0x0102);
        assert_eq!(parts[3].whole, &[0x01, 0x01, 0xff]);
    }

    #[test]
    fn a_refusal_is_read_as_one() {
        // TimeStampResp { status { rejection(2) } }
        let reply = tlv(0x30, &tlv(0x30, &integer(&[2])));
        assert_eq!(reply_token(&reply), Err(TimestampError::Refused(2)));
        let granted = tlv(0x30, &tlv(0x30, &integer(&[0])));
        assert_eq!(reply_token(&granted), Err(TimestampError::NoToken));
    }

    #[test]
    fn long_lengths_round_trip() {
        let big = tlv(0x04, &[7u8; 300]);
        let (e, _) = read(&big).unwrap();
        assert_eq!(e.content.len(), 300);
        assert_eq!(&big[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }
}
