//! Delivery over HTTP: the JSON webhook (signed, with an Idempotency-Key), Slack, Discord and
//! Mattermost incoming webhooks, and ntfy.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::Outgoing;
use crate::config::{AlertEntry, SinkKind};

/// The header that carries `sha256=<hex HMAC-SHA256 of the body>` when a secret is set.
pub const SIGNATURE_HEADER: &str = "X-Stet-Signature";

/// HMAC-SHA256 of `body` under `secret`, as lower-case hex.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub fn client(entry: &AlertEntry, user_agent: &str) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .timeout(Duration::from_secs(entry.timeout_secs))
        .connect_timeout(Duration::from_secs(entry.timeout_secs.min(10)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Posts one message; Ok when the receiver answered 2xx.
pub async fn deliver(
    client: &reqwest::Client,
    entry: &AlertEntry,
    out: &Outgoing<'_>,
) -> Result<(), String> {
    let url = entry.url.as_deref().ok_or("no url")?;
    let request = match entry.kind {
        SinkKind::Webhook => {
            let body = out.json.clone().into_bytes();
            let mut req = client
                .post(url)
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", out.key)
                .header("X-Stet-Event", out.event);
            if let Some(secret) = &entry.secret {
                req = req.header(
                    SIGNATURE_HEADER,
                    format!("sha256={}", sign(secret.expose(), &body)),
                );
            }
            req.body(body)
        }
        SinkKind::Slack | SinkKind::Mattermost => {
            json_post(client, url, &serde_json::json!({ "text": out.chat_slack }))
        }
        SinkKind::Discord => json_post(
            client,
            url,
            &serde_json::json!({ "content": truncate(&out.chat_discord, 2000) }),
        ),
        SinkKind::Ntfy => client
            .post(url)
            .header("Title", header_safe(&out.subject))
            .header("Tags", out.tag)
            .header("Click", out.click)
            .body(out.text.clone()),
        SinkKind::Email | SinkKind::Command => return Err("not an HTTP sink".into()),
    };
    let response = request.send().await.map_err(|e| error_chain(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let snippet: String = body.trim().chars().take(200).collect();
    Err(if snippet.is_empty() {
        format!("http {}", status.as_u16())
    } else {
        format!("http {}: {snippet}", status.as_u16())
    })
}

fn json_post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
}

/// The error and its causes, without the URL: a webhook URL often carries its token.
fn error_chain(err: &reqwest::Error) -> String {
    let mut out = match err.url() {
        Some(url) => err.to_string().replace(
            url.as_str(),
            &crate::pure::secret::redact_url(url.as_str(), true),
        ),
        None => err.to_string(),
    };
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('\u{2026}');
    t
}

/// HTTP header values must be visible ASCII: other characters become `?`.
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_the_rfc_4231_hmac() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn header_values_are_ascii() {
        assert_eq!(
            header_safe("Edited \u{2192} \u{201c}x\u{201d}"),
            "Edited ? ?x?"
        );
    }
}
