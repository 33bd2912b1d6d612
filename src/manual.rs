//! `flinkscan completions SHELL` and `flinkscan man`: generated from the
//! same clap definitions as `--help`, so they never drift from it.

use std::io::Write;

use clap::CommandFactory;

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> std::io::Result<()> {
    let mut cmd = crate::cli::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "flinkscan", &mut buf);
    out.write_all(&buf)?;
    out.flush()
}

/// The manual page, roff for man(1): the top-level command, then each
/// subcommand's own options as sections of the same page.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    let cmd = crate::cli::Cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut buf = Vec::new();
    man.render(&mut buf)?;
    // One page for the whole tool (like git's short pages would be too
    // many files to install): each subcommand's options follow the main
    // page, rendered as their own sections.
    for sub in cmd.get_subcommands() {
        let name = format!("flinkscan {}", sub.get_name());
        let sub = sub.clone().display_name(name.clone()).bin_name(name);
        let mut section = Vec::new();
        let page = clap_mangen::Man::new(sub);
        page.render_name_section(&mut section)?;
        page.render_synopsis_section(&mut section)?;
        page.render_description_section(&mut section)?;
        page.render_options_section(&mut section)?;
        page.render_extra_section(&mut section)?;
        // Their `.SH` headings become subsections of this page.
        let text = String::from_utf8_lossy(&section).replace(".SH ", ".SS ");
        buf.extend_from_slice(format!(".SH \"{}\"\n", sub_title(&text)).as_bytes());
        buf.extend_from_slice(text.as_bytes());
    }
    out.write_all(&buf)?;
    out.flush()
}

/// The subcommand's name line (`flinkscan\-scan \- Scan targets...`), as
/// the heading of its section.
fn sub_title(section: &str) -> String {
    section
        .lines()
        .skip_while(|l| !l.starts_with(".SS NAME"))
        .nth(1)
        .unwrap_or("")
        .replace('"', "")
        .to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_names_every_subcommand_and_scan_flag() {
        let mut buf = Vec::new();
        man_page(&mut buf).unwrap();
        let page = String::from_utf8(buf).unwrap();
        assert!(page.starts_with(".ie"), "{}", &page[..200.min(page.len())]);
        for needle in [
            "completions",
            "\\-\\-fail\\-on\\-new",
            "\\-\\-min\\-severity",
            "\\-\\-output\\-all",
        ] {
            assert!(page.contains(needle), "{needle} missing");
        }
    }
}
