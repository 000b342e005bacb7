//! `stet man [--dir DIR]`: the manual pages, generated from the same argument definitions the
//! binary parses: stet(1) on stdout, or stet(1) and one page per verb (stet-watch-add(1), ...)
//! written into a directory.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, CommandFactory};

use super::{Cli, exit, output};
use crate::say;

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write stet.1 and one page per verb (stet-watch.1, stet-watch-add.1, ...) into this
    /// directory instead of printing stet(1).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: &ManArgs) -> anyhow::Result<u8> {
    let cmd = Cli::command();
    match &args.dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            output::raw(&page)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
            say!("manual pages written to {}", dir.display());
        }
    }
    Ok(exit::OK)
}
