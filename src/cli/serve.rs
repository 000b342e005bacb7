//! `stet serve [--listen ADDR]`: the web interface and API over an archive, and
//! `stet server token`: a new token for `[server] token_sha256`.

use std::net::SocketAddr;

use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;

use super::output;
use super::{Context, ExitError, exit};
use crate::say;
use crate::server::{self, ServeOptions};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (default: `[server] listen`, else 127.0.0.1:8480). Anything
    /// but a loopback address needs `[server] public = true` or a token.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Print a new random token and the SHA-256 line to add to `[server] token_sha256`.
    Token,
}

pub async fn run(ctx: &Context, args: &ServeArgs) -> anyhow::Result<u8> {
    let options = ServeOptions::from_config(&ctx.config, args.listen)
        .map_err(|e| ExitError::usage(e.to_string()))?;
    if !ctx.db_path.exists() {
        return Err(ExitError::not_found(format!(
            "no archive at {} (check some articles first, or pass --db)",
            ctx.db_path.display()
        )));
    }
    let bound = match server::bind(ctx.db_path.clone(), options).await {
        Ok(b) => b,
        Err(e @ server::ServeError::Exposed(_)) => return Err(ExitError::usage(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let addr = bound.local_addr()?;
    say!("stet: serving {} at http://{addr}/", ctx.db_path.display());
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(t) => { t.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
        stop.cancel();
    });
    bound.serve(shutdown).await?;
    Ok(exit::OK)
}

pub fn token(json: bool) -> anyhow::Result<u8> {
    let token = server::new_token();
    let hash = server::token_hash(&token);
    if json {
        output::json_line(&serde_json::json!({"token": token, "sha256": hash}))?;
        return Ok(exit::OK);
    }
    say!("token: {token}");
    say!("Keep the token secret: send it as `Authorization: Bearer TOKEN`, or log in with it.");
    say!("Add its hash to the config (several may be listed):");
    say!("[server]");
    say!("token_sha256 = [\"{hash}\"]");
    Ok(exit::OK)
}
