//! The table: one row per scenario with its figure, target, the raw limit of the same machine
//! measured in the same run, their ratio, and whether the target was met, plus a header
//! naming the machine, versions and command line.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::stats::median;

/// One run's named figures (`rate`, `p50_ms`, `raw_rate`, ...).
pub type Sample = BTreeMap<&'static str, f64>;

/// Medians over runs, with their relative spread.
#[derive(Default, Clone)]
pub struct Figures(pub BTreeMap<&'static str, (f64, f64)>);

impl Figures {
    pub fn from_runs(runs: &[Sample]) -> Self {
        let mut keys: Vec<&'static str> = runs.iter().flat_map(|s| s.keys().copied()).collect();
        keys.sort_unstable();
        keys.dedup();
        Self(
            keys.into_iter()
                .map(|k| {
                    let values: Vec<f64> = runs.iter().filter_map(|s| s.get(k).copied()).collect();
                    (k, median(&values))
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> f64 {
        self.0.get(key).map_or(f64::NAN, |(m, _)| *m)
    }

    pub fn spread(&self, key: &str) -> f64 {
        self.0.get(key).map_or(f64::NAN, |(_, s)| *s)
    }
}

pub struct Row {
    pub scenario: &'static str,
    pub figure: String,
    pub target: String,
    pub limit: String,
    pub ratio: String,
    pub met: Option<bool>,
    pub noise: String,
}

pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| scenario | figure (median) | target | raw limit, same run | ratio | met | noise (max-min)/median |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for row in rows {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "n/a",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.scenario, row.figure, row.target, row.limit, row.ratio, met, row.noise
        );
    }
    out
}

pub fn per_second(value: f64) -> String {
    if value >= 10_000.0 { format!("{:.0}k/s", value / 1000.0) } else { format!("{value:.0}/s") }
}

pub fn percent(value: f64) -> String {
    if value.is_finite() { format!("{:.0}%", value * 100.0) } else { "n/a".into() }
}

/// The machine and the versions the figures were measured with.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| info.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned()))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let version = |program: &str, arg: &str| {
        std::process::Command::new(program)
            .arg(arg)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into())
    };
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let nats = parley::embedded::find_nats_server(&repo.join(".parley"))
        .map(|b| version(&b.to_string_lossy(), "--version"))
        .unwrap_or_default();
    let postgres = parley::embedded::find_pg_bin_dir()
        .map(|d| version(&d.join("postgres").to_string_lossy(), "--version"))
        .unwrap_or_default();
    format!(
        "- machine: {cores} cores ({cpu}), {memory}, {}\n- {nats}; {postgres}; {}\n- command: `{}`\n",
        version("uname", "-sr"),
        version("rustc", "--version"),
        std::env::args().collect::<Vec<_>>().join(" ")
    )
}
