//! The progress a person sees on stderr: the bar's message on a terminal,
//! a plain line elsewhere. Rates count this run's probes only (a resumed
//! scan's earlier ones were not sent in this run's time) and never show
//! more than `--rate`: the limiter lets a first burst through, which a
//! short average would show as a rate above the limit.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Progress;

/// What the progress bar counts during the sweep.
#[derive(Debug, Clone, Copy)]
pub struct SweepCounts {
    pub probed: u64,
    pub total: u64,
    pub open: u64,
    pub identified: u64,
    pub findings: u64,
}

/// How fast this run sweeps: probes since `at_start` over `elapsed`,
/// at most `limit` (`--rate`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Pace {
    /// Probes already counted when this run began (a resumed scan).
    pub at_start: u64,
    pub limit: Option<u32>,
}

impl Pace {
    /// Probes per second, a whole number.
    pub fn rate(&self, probed: u64, elapsed: Duration) -> u64 {
        let secs = elapsed.as_secs_f64().max(0.001);
        let rate = (probed.saturating_sub(self.at_start) as f64 / secs).round() as u64;
        match self.limit {
            Some(l) => rate.min(u64::from(l)),
            None => rate,
        }
    }
}

/// The sweep's progress message: rate and ETA as whole numbers.
pub fn sweep_message(c: SweepCounts, elapsed: Duration, pace: Pace) -> String {
    let rate = pace.rate(c.probed, elapsed);
    let eta = match c.total.saturating_sub(c.probed).checked_div(rate) {
        Some(left) => format!("ETA {left}s"),
        None => "ETA -".to_string(),
    };
    format!(
        "{rate}/s {eta} | {} open, {} identified, {} findings",
        c.open, c.identified, c.findings
    )
}

/// `flinkscan: progress: 512/1024 probes (50%), 100/s, 1 open, 1 identified, 0 findings, ETA 5s`
pub fn progress_line(progress: &Progress, total: u64, elapsed: Duration, pace: Pace) -> String {
    let s = &progress.sweep;
    let done = s.probed.load(Ordering::Relaxed);
    let rate = pace.rate(done, elapsed);
    let eta = match total.saturating_sub(done).checked_div(rate) {
        Some(left) => humantime::format_duration(Duration::from_secs(left)).to_string(),
        None => "unknown".into(),
    };
    format!(
        "flinkscan: progress: {done}/{total} probes ({}%), {rate}/s, {} open, {} identified, {} findings, ETA {eta}",
        (u128::from(done) * 100)
            .checked_div(u128::from(total))
            .unwrap_or(100),
        s.open.load(Ordering::Relaxed),
        progress.identified.load(Ordering::Relaxed),
        progress.findings.load(Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(probed: u64, total: u64) -> SweepCounts {
        SweepCounts {
            probed,
            total,
            open: 3,
            identified: 1,
            findings: 2,
        }
    }

    #[test]
    fn sweep_rates_and_eta_are_whole_numbers() {
        assert_eq!(
            sweep_message(
                counts(1000, 4000),
                Duration::from_millis(3000),
                Pace::default()
            ),
            "333/s ETA 9s | 3 open, 1 identified, 2 findings"
        );
        assert!(
            sweep_message(counts(0, 10), Duration::from_secs(1), Pace::default())
                .starts_with("0/s ETA -")
        );
    }

    #[test]
    fn the_rate_never_shows_more_than_the_limit() {
        // The limiter's first burst: 5,348 probes in the first second.
        let pace = Pace {
            at_start: 0,
            limit: Some(4000),
        };
        let m = sweep_message(counts(5348, 100_000), Duration::from_secs(1), pace);
        assert!(m.starts_with("4000/s "), "{m}");
        // Under the limit, the measured rate.
        let m = sweep_message(counts(3000, 100_000), Duration::from_secs(1), pace);
        assert!(m.starts_with("3000/s "), "{m}");
    }

    #[test]
    fn a_resumed_scan_counts_only_its_own_probes() {
        // 60,000 probes came from the checkpoint; this run sent 1,000 in 1 s.
        let pace = Pace {
            at_start: 60_000,
            limit: None,
        };
        let m = sweep_message(counts(61_000, 65_536), Duration::from_secs(1), pace);
        assert!(m.starts_with("1000/s ETA 4s"), "{m}");
        let p = Progress::default();
        p.sweep.probed.store(61_000, Ordering::Relaxed);
        let line = progress_line(&p, 65_536, Duration::from_secs(1), pace);
        assert!(line.contains(", 1000/s,"), "{line}");
    }
}
