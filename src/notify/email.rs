//! Delivery by e-mail over SMTP (lettre): STARTTLS, implicit TLS or, for a local relay, none;
//! optional authentication; a plain-text body with the word diff and an HTML alternative.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Outgoing;
use crate::config::{AlertEntry, SmtpTls};

type Transport = AsyncSmtpTransport<Tokio1Executor>;

pub fn transport(entry: &AlertEntry) -> Result<Transport, String> {
    let host = entry.smtp_host.as_deref().ok_or("no smtp_host")?;
    let (builder, default_port) = match entry.smtp_tls {
        SmtpTls::Starttls => (
            Transport::starttls_relay(host).map_err(|e| format!("smtp {host}: {e}"))?,
            587,
        ),
        SmtpTls::Implicit => (
            Transport::relay(host).map_err(|e| format!("smtp {host}: {e}"))?,
            465,
        ),
        SmtpTls::None => (Transport::builder_dangerous(host), 25),
    };
    let mut builder = builder
        .port(entry.smtp_port.unwrap_or(default_port))
        .timeout(Some(Duration::from_secs(entry.timeout_secs)));
    if let (Some(user), Some(pass)) = (&entry.username, &entry.password) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
    }
    Ok(builder.build())
}

pub fn message(entry: &AlertEntry, out: &Outgoing<'_>) -> Result<Message, String> {
    let from: Mailbox = entry
        .from
        .as_deref()
        .ok_or("no from")?
        .parse()
        .map_err(|e| format!("bad from: {e}"))?;
    let mut builder = Message::builder()
        .from(from)
        .subject(out.subject.clone())
        .header(header::MIME_VERSION_1_0)
        .message_id(Some(format!("<{}@stet.alert>", out.key)));
    for to in &entry.to {
        builder = builder.to(to.parse().map_err(|e| format!("bad to {to:?}: {e}"))?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            out.text.clone(),
            out.html.clone(),
        ))
        .map_err(|e| format!("cannot build the message: {e}"))
}

pub async fn deliver(
    transport: &Transport,
    entry: &AlertEntry,
    out: &Outgoing<'_>,
) -> Result<(), String> {
    let message = message(entry, out)?;
    let host = entry.smtp_host.as_deref().unwrap_or("?");
    let deadline = Duration::from_secs(entry.timeout_secs.saturating_mul(2));
    match tokio::time::timeout(deadline, transport.send(message)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("smtp {host}: {}", error_chain(&e))),
        Err(_) => Err(format!(
            "smtp {host}: no answer within {} s",
            deadline.as_secs()
        )),
    }
}

/// Connects and says hello, to report an unreachable server at startup.
pub async fn probe(entry: &AlertEntry) -> Result<(), String> {
    let transport = transport(entry)?;
    let host = entry.smtp_host.as_deref().unwrap_or("?");
    let deadline = Duration::from_secs(entry.timeout_secs.saturating_mul(2));
    match tokio::time::timeout(deadline, transport.test_connection()).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(format!("smtp {host}: the server did not accept a session")),
        Ok(Err(e)) => Err(format!("smtp {host}: {}", error_chain(&e))),
        Err(_) => Err(format!(
            "smtp {host}: no answer within {} s",
            deadline.as_secs()
        )),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(&format!(": {text}"));
        }
        source = s.source();
    }
    out
}
