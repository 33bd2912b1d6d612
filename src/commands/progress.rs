//! The scan's progress on stderr: a bar on a terminal, a plain line every
//! few seconds in logs.

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
                let line = progress_line(&progress, total, started.elapsed());
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
                    bar.set_message(sweep_message(
                        SweepCounts {
                            probed,
                            total,
                            open,
                            identified,
                            findings,
                        },
                        started.elapsed(),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    Some((bar, ticker))
}

/// `flinkscan: progress: 512/1024 probes (50%), 100/s, 1 open, 1 identified, 0 findings, ETA 5s`
fn progress_line(progress: &Progress, total: u64, elapsed: Duration) -> String {
    let s = &progress.sweep;
    let done = s.probed.load(Ordering::Relaxed);
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let eta = if rate >= 1.0 {
        let left = total.saturating_sub(done) as f64 / rate;
        humantime::format_duration(Duration::from_secs(left.ceil() as u64)).to_string()
    } else {
        "unknown".into()
    };
    format!(
        "flinkscan: progress: {done}/{total} probes ({}%), {}/s, {} open, {} identified, {} findings, ETA {eta}",
        (u128::from(done) * 100)
            .checked_div(u128::from(total))
            .unwrap_or(100),
        rate.round() as u64,
        s.open.load(Ordering::Relaxed),
        progress.identified.load(Ordering::Relaxed),
        progress.findings.load(Ordering::Relaxed)
    )
}

/// What the progress bar counts during the sweep.
struct SweepCounts {
    probed: u64,
    total: u64,
    open: u64,
    identified: u64,
    findings: u64,
}

/// The sweep's progress message: rate and ETA as whole numbers.
fn sweep_message(c: SweepCounts, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = (c.probed as f64 / secs).round() as u64;
    let eta = match c.total.saturating_sub(c.probed).checked_div(rate) {
        Some(left) => format!("ETA {left}s"),
        None => "ETA -".to_string(),
    };
    format!(
        "{rate}/s {eta} | {} open, {} identified, {} findings",
        c.open, c.identified, c.findings
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_rates_and_eta_are_whole_numbers() {
        let counts = SweepCounts {
            probed: 1000,
            total: 4000,
            open: 3,
            identified: 1,
            findings: 2,
        };
        assert_eq!(
            sweep_message(counts, Duration::from_millis(3000)),
            "333/s ETA 9s | 3 open, 1 identified, 2 findings"
        );
        let idle = SweepCounts {
            probed: 0,
            total: 10,
            open: 0,
            identified: 0,
            findings: 0,
        };
        assert!(sweep_message(idle, Duration::from_secs(1)).starts_with("0/s ETA -"));
    }
}
