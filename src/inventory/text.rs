//! The job inventory in words: one line per job and one sentence per
//! inventory, for findings, the cluster card and the terminal. Pure over
//! the records (no values ever reach them).

use crate::model::{Job, JobInventory};

/// One line for a job: name, state, flows, credentials.
pub fn job_line(job: &Job) -> String {
    let mut s = format!("{} ({})", job.name, job.state.to_ascii_lowercase());
    let flows = flow_text(job);
    if !flows.is_empty() {
        s.push(' ');
        s.push_str(&flows);
    }
    let secret: Vec<&str> = job.secrets().map(|p| p.key.as_str()).collect();
    if !secret.is_empty() {
        s.push_str(&format!("; credentials in clear: {}", list(&secret, 5)));
    }
    let masked: Vec<&str> = job.masked().map(|p| p.key.as_str()).collect();
    if !masked.is_empty() {
        s.push_str(&format!("; masked by Flink: {}", list(&masked, 5)));
    }
    s
}

/// "reads A, B, writes C".
pub fn flow_text(job: &Job) -> String {
    let src: Vec<&str> = job.sources.iter().map(String::as_str).collect();
    let sink: Vec<&str> = job.sinks.iter().map(String::as_str).collect();
    match (src.is_empty(), sink.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!("reads {}", list(&src, 3)),
        (true, false) => format!("writes {}", list(&sink, 3)),
        (false, false) => format!("reads {}, writes {}", list(&src, 3), list(&sink, 3)),
    }
}

pub fn list(items: &[&str], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        s.push_str(&format!(" and {} more", items.len() - max));
    }
    s
}

/// The inventory's one-sentence summary.
pub fn summary(invs: &[&JobInventory]) -> String {
    let listed: usize = invs.iter().map(|i| i.listed).sum();
    let running: usize = invs
        .iter()
        .map(|i| i.states.get("RUNNING").copied().unwrap_or(0))
        .sum();
    let jobs: Vec<&Job> = invs.iter().flat_map(|i| i.jobs.iter()).collect();
    let exposing = jobs.iter().filter(|j| j.secrets().next().is_some()).count();
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut s = plural(running, "running job", "running jobs");
    if listed != running {
        s.push_str(&format!(" ({listed} listed)"));
    }
    let shown: Vec<String> = jobs
        .iter()
        .filter(|j| j.state == "RUNNING")
        .take(3)
        .map(|j| {
            let f = flow_text(j);
            if f.is_empty() {
                j.name.clone()
            } else {
                format!("{} {f}", j.name)
            }
        })
        .collect();
    if !shown.is_empty() {
        s.push_str(": ");
        s.push_str(&shown.join("; "));
    }
    if exposing > 0 {
        s.push_str(&format!(
            "; {} expose{} credentials",
            if exposing == 1 && jobs.len() == 1 {
                "it".to_string()
            } else {
                format!("{exposing} of them")
            },
            if exposing == 1 && jobs.len() == 1 {
                "s"
            } else {
                ""
            }
        ));
    }
    s
}
