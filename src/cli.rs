//! Command-line definitions (clap derive) and nothing else: validation into a
//! scan plan happens in `plan`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::model::Severity;
use crate::report::jsonl::Format as JsonlFormat;
use crate::report::sarif::Compat;

const EXIT_CODES: &str = "\
Exit codes:
  0  scan finished; no finding at or above --fail-on (or --fail-on not given)
  1  scan finished; at least one finding at or above --fail-on (with --fail-on-new: one marked new),
     or a check of a rule at or above it could not run (its port stopped answering: unknown is not
     clean); under --quiet one line on stderr names them
  2  usage error: bad flag, bad target or port list, unreadable input, unusable output
     (nothing was sent)
  3  runtime failure: could not write an output or a --jsonl stream broke or its reader fell behind
     (the others were written), the --proxy failed mid-scan (status proxy-failed, every output
     written), every target failed to resolve, ...
  129, 130, 143  stopped by SIGHUP, SIGINT (Ctrl-C) or SIGTERM (128 + signal): no new probes,
     identification in flight got up to 10 s, then every output was written with scan status
     \"interrupted\" and the open ports left unfinished listed (scan.cut_short,
     scan.not_identified). A second signal quits at once (no output is left half-written).
     Exit 3 wins over these, these over 1.";

const SCAN_EXAMPLES: &str = "\
Examples:
  flinkscan scan 10.20.0.0/16 --json out.json --sarif out.sarif
  flinkscan scan -i targets.txt --exclude 10.20.5.0/24 --ports +50100-50200 --jsonl -
  flinkscan scan flink.internal:8081 --fail-on high          # exit 1 on high/critical
  flinkscan scan -i targets.txt -o nightly --min-severity medium
                                                 # nightly.{json,sarif,jsonl,html,md,csv}
  flinkscan scan -i targets.txt -q -o nightly --baseline accepted.json --fail-on high --fail-on-new
                                                 # cron: silent unless a NEW high/critical appears
  flinkscan scan 127.0.0.1 --rules 'FLINK-TLS-*'             # only the TLS audit rules
  flinkscan scan 10.0.0.0/8 --allow-large --shard 3/16       # one of 16 machines
  flinkscan scan -i targets.txt --dry-run                    # list what would be probed
  naabu -host 10.20.0.0/16 -p 8081 -silent | flinkscan scan -i - --jsonl findings.jsonl
  flinkscan scan -i targets.txt --state nightly.state --max-duration 5h
                                                 # a cut-short run continues next time

Targets: IPv4/IPv6 addresses, CIDRs (10.0.0.0/8), ranges (10.0.0.1-10.0.0.9 or 10.0.0.1-9),
hostnames (all A and AAAA records), each optionally with :PORT ([::1]:8081). Files given with
-i take one or more specs per line; `#` starts a comment. Exclusions always win.

Safety: by default flinkscan only connects and sends read-only probes (GET requests that Flink
serves without side effects, a BLOB GET with an invalid mode, an RPC heartbeat). It never uploads,
submits, cancels or deletes. --intrusive additionally opens and closes one SQL Gateway session
and asks BLOB servers for a key that cannot exist (the error leaks the storage path).
State-changing requests (yarn-cancel, jar plan/run, uploads, ...) are refused by a built-in
deny-list that no probe file can override.";

#[derive(Debug, Parser)]
#[command(
    name = "flinkscan",
    version,
    about = "Find exposed Apache Flink interfaces, fingerprint versions, audit exposure and TLS",
    long_about = "flinkscan sweeps address ranges for Apache Flink's network interfaces (JobManager REST \
and web UI, SQL Gateway, BLOB server, Akka/Pekko RPC, HistoryServer, TaskManager data port, \
Prometheus and JMX reporters), identifies each one by probing, fingerprints the Flink version, \
checks what an unauthenticated client can do and how strong the TLS is, and reports findings as \
JSON, JSON Lines (Elastic Common Schema or OCSF), SARIF 2.1.0, HTML, Markdown and CSV.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const ADVISORIES_HELP: &str = "\
The shipped data is the OSV records in the repository's advisories/osv/ (copied from GitHub's
advisory database, or written by flinkscan from the cited primary sources where no OSV record
exists), advisories/interfaces.toml (which Flink interface exposes each OSV package) and
advisories/releases.toml (release lines and the support policy). A scan more than a year after
the data was checked says so in its notices.

Examples:
  flinkscan advisories
  flinkscan advisories --json | jq '.advisories[].ids'
  flinkscan advisories --advisories maven-all.zip      # osv.dev bulk export
  flinkscan scan -i targets.txt --advisories ./osv-records/";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan targets for Flink interfaces and exposures.
    #[command(after_long_help = format!("{SCAN_EXAMPLES}\n\n{EXIT_CODES}"))]
    Scan(Box<ScanArgs>),
    /// List the rule catalog (ids to use with --rules / --skip-rules), or explain one rule.
    Rules {
        /// Explain this rule: what it finds, why it matters, the fix.
        #[arg(value_name = "ID")]
        id: Option<String>,
        /// Print the catalog as JSON.
        #[arg(long)]
        json: bool,
        /// Load extra or replacement probe files from DIR first.
        #[arg(long, value_name = "DIR")]
        probes: Option<PathBuf>,
        /// Add or replace advisories from PATH (a directory or zip of OSV JSON records).
        #[arg(long, value_name = "PATH")]
        advisories: Option<PathBuf>,
    },
    /// List the vulnerability advisories flinkscan matches versions against: ids, aliases,
    /// affected ranges, fixed versions, interfaces and sources; and the release lines used
    /// for end of life.
    #[command(after_long_help = ADVISORIES_HELP)]
    Advisories {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
        /// Add or replace advisories from PATH (a directory or zip of OSV JSON records).
        #[arg(long, value_name = "PATH")]
        advisories: Option<PathBuf>,
    },
    /// Merge the --json (or --sarif) outputs of the shards of one scan into one report.
    Merge {
        /// Shard outputs: all JSON reports or all SARIF logs.
        #[arg(required = true, value_name = "FILE")]
        inputs: Vec<PathBuf>,
        /// Where to write the merged report (atomically, mode 0600).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// With JSON inputs, also render the merged report as SARIF to FILE.
        #[arg(long, value_name = "FILE")]
        sarif: Option<PathBuf>,
        /// The --probes DIR the shards were scanned with, so their rules reach the merged SARIF.
        #[arg(long, value_name = "DIR")]
        probes: Option<PathBuf>,
        /// The --advisories PATH the shards were scanned with.
        #[arg(long, value_name = "PATH")]
        advisories: Option<PathBuf>,
    },
    /// Render a saved or merged --json report for people: HTML, Markdown, or the terminal summary.
    #[command(
        after_long_help = "Examples:\n  flinkscan report scan.json --html scan.html\n  flinkscan report scan.json --csv triage.csv\n  flinkscan report merged.json --html out.html --markdown out.md\n  flinkscan report scan.json            # the terminal summary"
    )]
    Report {
        /// A flinkscan --json report (or the output of `flinkscan merge`).
        #[arg(value_name = "IN.json")]
        input: PathBuf,
        /// Write the self-contained HTML report to FILE, or - for stdout.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Write the Markdown report to FILE, or - for stdout.
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// Write one CSV row per finding to FILE, or - for stdout.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Never colour the summary.
        #[arg(long)]
        no_color: bool,
    },
    /// Compare two --json reports: which findings are new, unchanged or fixed.
    #[command(
        after_long_help = "Exit codes: 0 no new finding (at or above --fail-on, if given), 1 at least one, 2 usage error.\n\nExamples:\n  flinkscan diff last-week.json today.json\n  flinkscan diff last-week.json today.json --fail-on high   # exit 1 only for new high/critical"
    )]
    Diff {
        /// The earlier --json report (the baseline).
        old: PathBuf,
        /// The later --json report, judged against OLD.
        new: PathBuf,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 only when a NEW finding is at or above this severity [default: any new finding].
        #[arg(long, value_enum, value_name = "SEVERITY")]
        fail_on: Option<Severity>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    #[command(
        after_long_help = "Examples:\n  source <(flinkscan completions bash)                           # this shell\n  flinkscan completions bash > /etc/bash_completion.d/flinkscan   # every bash\n  flinkscan completions zsh > \"${fpath[1]}/_flinkscan\"\n  flinkscan completions fish > ~/.config/fish/completions/flinkscan.fish"
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout.
    #[command(
        after_long_help = "Examples:\n  flinkscan man | man -l -\n  flinkscan man > /usr/local/share/man/man1/flinkscan.1"
    )]
    Man,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct ScanArgs {
    /// Read scan options from a TOML profile; keys are long flag names
    /// (`ports = "+50100-50200"`, `fail-on = "high"`, `targets = ["10.0.0.0/16"]`).
    /// Flags on the command line override it.
    #[arg(long, value_name = "FILE", help_heading = "Targets")]
    pub config: Option<PathBuf>,

    /// Targets: addresses, CIDRs, ranges, hostnames, each optionally HOST:PORT; or URLs,
    /// http[s]://HOST[:PORT]/PREFIX/, for Flink behind a reverse proxy under PREFIX.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Read targets from FILE, or from standard input with `-` (one or more specs per line,
    /// # comments). Repeatable.
    #[arg(
        short = 'i',
        long = "input",
        value_name = "FILE",
        help_heading = "Targets"
    )]
    pub input: Vec<PathBuf>,

    /// Never probe these addresses (same forms as targets). Repeatable. Exclusions always win.
    #[arg(long, value_name = "SPEC", help_heading = "Targets")]
    pub exclude: Vec<String>,

    /// Read exclusions from FILE (or `-`: standard input, if -i does not read it). Repeatable.
    #[arg(long, value_name = "FILE", help_heading = "Targets")]
    pub exclude_file: Vec<PathBuf>,

    /// Ports: list and ranges (8081,6123,50100-50200); a leading + adds to the defaults
    /// (8081,8082,8083,6123,6124,9249,8789,8088). `kubernetes` names the Flink Kubernetes
    /// Operator's ports (9443,8085,9999) and the NodePort range 30000-32767: `+kubernetes`.
    #[arg(short = 'p', long, value_name = "LIST", help_heading = "Targets")]
    pub ports: Option<String>,

    /// Allow target spaces larger than a /16 (65,536 addresses).
    #[arg(long, help_heading = "Targets")]
    pub allow_large: bool,

    /// Seed of the target permutation; all shards of one scan must use the same seed.
    #[arg(long, value_name = "N", default_value_t = crate::targets::permute::DEFAULT_SEED, help_heading = "Targets")]
    pub seed: u64,

    /// Scan only shard K of N (0-based), e.g. 3/16. Shards are disjoint; their union is the full scan.
    #[arg(long, value_name = "K/N", help_heading = "Targets")]
    pub shard: Option<String>,

    /// Scan shard K of N, N given here and K read from the environment variable named by
    /// --shard-index-env (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX).
    #[arg(long, value_name = "N", help_heading = "Targets")]
    pub shard_count: Option<u64>,

    /// Environment variable holding the shard index when --shard-count is given.
    #[arg(
        long,
        value_name = "VAR",
        default_value = "JOB_COMPLETION_INDEX",
        help_heading = "Targets"
    )]
    pub shard_index_env: String,

    /// List the address:port pairs that would be probed, send nothing, and exit.
    #[arg(long, help_heading = "Targets")]
    pub dry_run: bool,

    /// Connections in flight at once, at least 1 [default: sized from the open-file limit, at most 12288].
    #[arg(long, value_name = "N", value_parser = parse_concurrency, help_heading = "Speed")]
    pub concurrency: Option<usize>,

    /// Send every connection (sweep, identification, checks, TLS audit) through a SOCKS5 jump
    /// host: socks5://[user:pass@]host:port (target names resolved here), or socks5h://... (target
    /// names never resolved here: each travels to the proxy, which resolves it; a name cannot
    /// then be excluded). The proxy is checked (greeting and credentials) before the first
    /// probe; through it the default --concurrency is 256. Credentials never appear in reports
    /// or logs.
    #[arg(long, value_name = "URL", value_parser = crate::net::parse_proxy, help_heading = "Speed")]
    pub proxy: Option<crate::net::Proxy>,

    /// Maximum new connections per second, at least 1 [default: unlimited].
    #[arg(long, value_name = "N", value_parser = parse_rate, help_heading = "Speed")]
    pub rate: Option<u32>,

    /// TCP connect timeout, e.g. 1s or 500ms.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration, help_heading = "Speed")]
    pub timeout: std::time::Duration,

    /// Extra connect attempts for every probe that timed out [default: decided from evidence: up to 2 for hosts that answered on another port, none for hosts that never answered].
    #[arg(long, value_name = "N", help_heading = "Speed")]
    pub retries: Option<u32>,

    /// Deadline for each identification or check exchange.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, help_heading = "Speed")]
    pub probe_timeout: std::time::Duration,

    /// Deadline for resolving target and exclusion names (per DNS query, two attempts).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, help_heading = "Speed")]
    pub dns_timeout: std::time::Duration,

    /// Open ports identified and checked at once (at least 1).
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = parse_concurrency, help_heading = "Speed")]
    pub identify_concurrency: usize,

    /// Checkpoint the scan to FILE every 3 s (atomically) and when it stops early; if FILE
    /// holds a checkpoint of this same scan, continue from it. Removed when the scan completes.
    /// A checkpoint of a different scan (other targets, ports or options) is moved aside to
    /// FILE.previous (with a notice) and this scan starts afresh.
    #[arg(long, value_name = "FILE", help_heading = "Checkpoints")]
    pub state: Option<PathBuf>,

    /// Continue the scan checkpointed in FILE (after SIGKILL, SIGTERM, --max-duration or a
    /// reboot); give the same targets and options as the first run. Checkpoints go on to FILE.
    /// Unlike --state, a checkpoint of a different scan is refused.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "state",
        help_heading = "Checkpoints"
    )]
    pub resume: Option<PathBuf>,

    /// Stop the whole scan after this long and report what was found (status max-duration).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Speed")]
    pub max_duration: Option<std::time::Duration>,

    /// Only run these rules (comma-separated ids; a trailing * matches a prefix: FLINK-TLS-*).
    #[arg(
        long,
        value_name = "IDS",
        value_delimiter = ',',
        help_heading = "Checks"
    )]
    pub rules: Vec<String>,

    /// Skip these rules (same syntax as --rules).
    #[arg(
        long,
        value_name = "IDS",
        value_delimiter = ',',
        help_heading = "Checks"
    )]
    pub skip_rules: Vec<String>,

    /// Load extra or replacement probe files (*.toml) from DIR; see `flinkscan rules`.
    #[arg(long, value_name = "DIR", help_heading = "Checks")]
    pub probes: Option<PathBuf>,

    /// Add or replace vulnerability advisories from PATH: a directory or a zip of OSV JSON
    /// records (osv.dev's bulk export of the Maven ecosystem works as it is); records for
    /// packages that no Flink interface exposes are ignored. See `flinkscan advisories`.
    #[arg(long, value_name = "PATH", help_heading = "Checks")]
    pub advisories: Option<PathBuf>,

    /// Allow checks that may change target state: open and close one SQL Gateway session;
    /// GET a BLOB key that cannot exist (may create an empty directory on the server).
    #[arg(long, help_heading = "Checks")]
    pub intrusive: bool,

    /// Skip the TLS protocol and cipher-suite enumeration on TLS ports.
    #[arg(long, help_heading = "Checks")]
    pub no_tls_audit: bool,

    /// Do not look for Flink under a path prefix (/flink/, /dashboard/, a same-host
    /// redirect or a link of the root page) on HTTP ports whose /config answers 404 or a
    /// redirect. Discovery sends at most 8 extra requests per such port.
    #[arg(long, help_heading = "Checks")]
    pub no_prefix_discovery: bool,

    /// Do not probe the ports a JobManager names (its TaskManagers' RPC, data, JMX and
    /// metrics ports, its own RPC and BLOB ports). By default they are probed on hosts
    /// inside the targets and not excluded, never on any other host.
    #[arg(long, help_heading = "Checks")]
    pub no_follow: bool,

    /// Write the full report as JSON to FILE (atomically, mode 0600), or - for stdout.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub json: Option<PathBuf>,

    /// Stream events as JSON Lines (ECS field names, or OCSF with --jsonl-format ocsf) to FILE, or - for stdout.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub jsonl: Option<PathBuf>,

    /// Field schema of --jsonl: ECS (Elastic) or OCSF events.
    #[arg(long, alias = "format", value_enum, default_value_t = JsonlFormat::Ecs, value_name = "SCHEMA", help_heading = "Output")]
    pub jsonl_format: JsonlFormat,

    /// Write a self-contained HTML report (clusters, attack paths, posture, findings) to FILE, or - for stdout.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub html: Option<PathBuf>,

    /// Write the same report as Markdown (tickets, pull-request comments) to FILE, or - for stdout.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub markdown: Option<PathBuf>,

    /// Write SARIF 2.1.0 to FILE, or - for stdout.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub sarif: Option<PathBuf>,

    /// Write one CSV row per finding (severity, rule, title, host, port, url, service, version,
    /// cluster, baseline, fix) to FILE, or - for stdout. Cells a spreadsheet would run as a
    /// formula are prefixed with '.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub csv: Option<PathBuf>,

    /// Write every format next to one base name, like nmap -oA: BASE.json, BASE.sarif,
    /// BASE.jsonl, BASE.html, BASE.md and BASE.csv. A format's own flag (--json FILE, ...)
    /// overrides its path.
    #[arg(short = 'o', long, value_name = "BASE", help_heading = "Output")]
    pub output_all: Option<PathBuf>,

    /// Leave findings below this severity out of every output (the reports say so). The
    /// exit code still judges all findings (see --fail-on).
    #[arg(long, value_enum, value_name = "SEVERITY", help_heading = "Output")]
    pub min_severity: Option<Severity>,

    /// SARIF location style: standard (absolute endpoint URLs) or github (code scanning upload).
    #[arg(long, value_enum, default_value_t = Compat::Standard, help_heading = "Output")]
    pub sarif_compat: Compat,

    /// Exit 1 when a finding at or above this severity is found.
    #[arg(long, value_enum, value_name = "SEVERITY", help_heading = "Output")]
    pub fail_on: Option<Severity>,

    /// With --baseline: --fail-on counts only NEW findings (unchanged ones were accepted).
    #[arg(long, requires_all = ["fail_on", "baseline"], help_heading = "Output")]
    pub fail_on_new: bool,

    /// A previous --json report: mark findings new, unchanged or fixed.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub baseline: Option<PathBuf>,

    /// Print nothing on success (for cron, which mails any output): no progress, no summary,
    /// no list of outputs. Errors and warnings still go to stderr, and a run that fails
    /// --fail-on prints one line there saying why.
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,

    /// No progress bar (or progress lines); the summary and everything else still print.
    #[arg(long, help_heading = "Output")]
    pub no_progress: bool,

    /// More logging on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, help_heading = "Output")]
    pub verbose: u8,

    /// Never colour the summary.
    #[arg(long, help_heading = "Output")]
    pub no_color: bool,
}

/// A flag value clap cannot take; clap names the flag.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("`{}`: must be a positive duration (e.g. 1s, 500ms, 2m)", crate::untrusted::quote(.0))]
    NotPositive(String),
    #[error(
        "`{}`: {} (use e.g. 1s, 500ms, 2m)",
        crate::untrusted::quote(.0),
        crate::untrusted::quote(&.1.to_string())
    )]
    Duration(String, humantime::DurationError),
    #[error("`{}`: must be greater than zero", crate::untrusted::quote(.0))]
    ZeroDuration(String),
    #[error(
        "0 would send nothing: give at least 1 connection per second, \
         or leave --rate out for no limit"
    )]
    ZeroRate,
    #[error("`{}` is not a whole number of connections per second", crate::untrusted::quote(.0))]
    Rate(String),
    #[error("0 would scan nothing: give at least 1")]
    ZeroConcurrency,
    #[error("`{}` is not a whole number", crate::untrusted::quote(.0))]
    Concurrency(String),
}

/// `1s`, `500ms`, `2m`, `1h30m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, ValueError> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs > 0.0 && secs < 1e9 {
            return Ok(std::time::Duration::from_secs_f64(secs));
        }
        return Err(ValueError::NotPositive(text.to_string()));
    }
    let d = humantime::parse_duration(t).map_err(|e| ValueError::Duration(text.to_string(), e))?;
    if d.is_zero() {
        return Err(ValueError::ZeroDuration(text.to_string()));
    }
    Ok(d)
}

/// `--rate`: 0 used to mean "unlimited" silently, the opposite of what it
/// says; unlimited is leaving the flag out.
pub fn parse_rate(text: &str) -> Result<u32, ValueError> {
    match text.trim().parse::<u32>() {
        Ok(0) => Err(ValueError::ZeroRate),
        Ok(n) => Ok(n),
        Err(_) => Err(ValueError::Rate(text.to_string())),
    }
}

/// `--concurrency`, `--identify-concurrency`: 0 used to become 1 silently.
pub fn parse_concurrency(text: &str) -> Result<usize, ValueError> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err(ValueError::ZeroConcurrency),
        Ok(n) => Ok(n),
        Err(_) => Err(ValueError::Concurrency(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_rate_and_concurrency_are_refused_with_a_reason() {
        let message = |e: ValueError| e.to_string();
        assert!(message(parse_rate("0").unwrap_err()).contains("leave --rate out"));
        assert_eq!(parse_rate("50"), Ok(50));
        assert!(message(parse_concurrency("0").unwrap_err()).contains("at least 1"));
        assert_eq!(parse_concurrency("8"), Ok(8));
        assert!(message(parse_rate("\u{1b}[2J").unwrap_err()).contains("\\u{1b}"));
    }

    /// clap re-wraps hand-written help at the terminal width (100 columns
    /// without a terminal): a longer line breaks mid-sentence with a ragged
    /// indent, and a positional argument without help prints as a blank.
    #[test]
    fn hand_written_help_is_printed_as_written() {
        use clap::CommandFactory;
        let mut cli = Cli::command().term_width(100);
        cli.build();
        let mut commands = vec![cli.clone()];
        commands.extend(cli.get_subcommands().cloned());
        for mut cmd in commands {
            let name = cmd.get_name().to_string();
            let rendered = cmd.render_long_help().to_string();
            let texts = [cmd.get_after_help(), cmd.get_after_long_help()];
            for text in texts.into_iter().flatten() {
                for line in text.to_string().lines() {
                    assert!(
                        rendered.lines().any(|r| r.trim_end() == line.trim_end()),
                        "`{name} --help` wraps this line: {line:?}"
                    );
                }
            }
            for arg in cmd.get_positionals() {
                assert!(
                    arg.get_help().is_some(),
                    "`{name} --help` shows {} without a description",
                    arg.get_id()
                );
            }
        }
    }
}
