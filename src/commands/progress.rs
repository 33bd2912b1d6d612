//! The scan's progress on stderr: a bar on a terminal, a plain line every
//! few seconds in logs (the words are `crate::scan::progress_text`'s).

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::scan::Progress;
use crate::targets::TargetSpace;

/// How often a progress line goes to a stderr that is not a terminal.
const PROGRESS_LINE_EVERY: Duration = Duration::from_secs(5);

/// Progress on stderr: a bar on a terminal; in cron or Kubernetes logs,
/// where a bar would be a stream of control characters, one plain line
/// every [`PROGRESS_LINE_EVERY`].
pub fn progress_bar(
    space: &TargetSpace,
    progress: &Arc<Progress>,
    enabled: bool,
    pace: crate::scan::progress_text::Pace,
) -> Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)> {
    if !enabled {
        return None;
    }
    let total = space.len();
    if !std::io::stderr().is_terminal() {
        let progress = Arc::clone(progress);
        let ticker = tokio::spawn(async move {
            let started = std::time::Instant::now();
            loop {
                tokio::time::sleep(PROGRESS_LINE_EVERY).await;
                let line = crate::scan::progress_text::progress_line(
                    &progress,
                    total,
                    started.elapsed(),
                    pace,
                );
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        });
        return Some((indicatif::ProgressBar::hidden(), ticker));
    }
    let total = space.len();
    let bar = indicatif::ProgressBar::new(total);
    // Rates and ETA are computed here as whole numbers: indicatif's
    // {per_sec} prints fractions, and its ETA reads 0s while the
    // identification phase still runs.
    let sweep_style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] sweep {bar:30} {pos}/{len} probes {msg}",
    )
    .ok()?;
    let identify_style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] identifying {bar:30} {pos}/{len} open ports {msg}",
    )
    .ok()?;
    bar.set_style(sweep_style);
    let ticker = {
        let bar = bar.clone();
        let progress = Arc::clone(progress);
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut identifying = false;
            loop {
                let s = &progress.sweep;
                let probed = s.probed.load(Ordering::Relaxed);
                let open = s.open.load(Ordering::Relaxed);
                let identified = progress.identified.load(Ordering::Relaxed);
                let findings = progress.findings.load(Ordering::Relaxed);
                if !identifying && probed >= total {
                    identifying = true;
                    bar.set_style(identify_style.clone());
                }
                if identifying {
                    bar.set_length(open.max(identified));
                    bar.set_position(identified);
                    bar.set_message(format!("| {findings} findings"));
                } else {
                    bar.set_position(probed);
                    bar.set_message(crate::scan::progress_text::sweep_message(
                        crate::scan::progress_text::SweepCounts {
                            probed,
                            total,
                            open,
                            identified,
                            findings,
                        },
                        started.elapsed(),
                        pace,
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    Some((bar, ticker))
}
