//! `flinkscan advisories`: the advisory data a scan matches versions against.

use std::io::Write;
use std::path::Path;

use super::{CommandError, Outcome};

pub fn run(json: bool, advisories: Option<&Path>) -> Result<Outcome, CommandError> {
    let data = crate::advisories::Advisories::load(advisories)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &data.listing())?;
        writeln!(out)?;
    } else {
        write!(out, "{}", data.render_text())?;
    }
    out.flush()?;
    Ok(Outcome::Clean)
}
