//! `flinkscan completions SHELL` and `flinkscan man`: generated from the
//! command line's own definition ([`crate::manual`]).

use super::{CommandError, Outcome};

pub fn completions(shell: clap_complete::Shell) -> Result<Outcome, CommandError> {
    crate::manual::completions(shell, &mut std::io::stdout().lock())?;
    Ok(Outcome::Clean)
}

pub fn man_page() -> Result<Outcome, CommandError> {
    crate::manual::man_page(&mut std::io::stdout().lock())?;
    Ok(Outcome::Clean)
}
