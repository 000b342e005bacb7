//! `stet completions SHELL`: the shell completion script, generated from the same argument
//! definitions the binary parses.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, exit, output};

#[derive(Debug, Args)]
#[command(after_help = "\
Install (the Debian package does this for bash, zsh and fish):
  bash: stet completions bash > ~/.local/share/bash-completion/completions/stet
  zsh:  stet completions zsh > ~/.zfunc/_stet     (with fpath+=~/.zfunc before compinit)
  fish: stet completions fish > ~/.config/fish/completions/stet.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "stet", &mut script);
    output::raw(&script)?;
    Ok(exit::OK)
}
