//! Delivery to a program: run without a shell, the event JSON on stdin, within a timeout.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::Outgoing;
use crate::config::AlertEntry;

pub async fn deliver(entry: &AlertEntry, out: &Outgoing<'_>) -> Result<(), String> {
    let (program, args) = entry.command.split_first().ok_or("no command")?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("STET_EVENT", out.event)
        .env("STET_IDEMPOTENCY_KEY", out.key)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program:?}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let json = out.json.clone();
    let run = async move {
        // A program that does not read its stdin is not an error of ours.
        let _ = stdin.write_all(json.as_bytes()).await;
        let _ = stdin.write_all(b"\n").await;
        drop(stdin);
        child.wait_with_output().await
    };
    let output = tokio::time::timeout(Duration::from_secs(entry.timeout_secs), run)
        .await
        .map_err(|_| {
            format!(
                "{program:?} did not finish within {} s (killed)",
                entry.timeout_secs
            )
        })?
        .map_err(|e| format!("{program:?} failed: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: String = stderr
        .trim()
        .chars()
        .rev()
        .take(300)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(format!("{program:?} exited with {}: {tail}", output.status))
}
