//! Timing: medians after warm-up, ratios against a baseline of the same run, sections of
//! the report, and the machine they ran on.

use std::fmt::Write as _;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long to run: `--quick` takes a few samples of each, the full run enough for a p99.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    pub(crate) quick: bool,
}

impl Mode {
    pub(crate) fn samples(self, full: usize) -> usize {
        if self.quick { full.min(5) } else { full }
    }

    pub(crate) fn warmup(self, full: usize) -> usize {
        if self.quick { 1 } else { full }
    }
}

/// Median and 99th percentile of a set of timings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) median: Duration,
    pub(crate) p99: Duration,
}

pub(crate) fn stats(mut timings: Vec<Duration>) -> Stats {
    assert!(!timings.is_empty(), "no samples");
    timings.sort();
    let at =
        |q: f64| timings[((timings.len() as f64 * q).ceil() as usize).clamp(1, timings.len()) - 1];
    Stats {
        median: timings[timings.len() / 2],
        p99: at(0.99),
    }
}

pub(crate) fn time<F: FnMut()>(warmup: usize, samples: usize, mut run: F) -> Stats {
    for _ in 0..warmup {
        run();
    }
    stats(
        (0..samples)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed()
            })
            .collect(),
    )
}

pub(crate) async fn time_async<F, Fut>(warmup: usize, samples: usize, mut run: F) -> Stats
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in 0..warmup {
        run(i).await;
    }
    let mut timings = Vec::with_capacity(samples);
    for i in warmup..warmup + samples {
        let start = Instant::now();
        run(i).await;
        timings.push(start.elapsed());
    }
    stats(timings)
}

pub(crate) fn show(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        format!("{micros:.1} µs")
    } else if micros < 1_000_000.0 {
        format!("{:.2} ms", micros / 1_000.0)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

pub(crate) fn ratio(ours: Duration, baseline: Duration) -> String {
    format!(
        "{:.2}×",
        ours.as_secs_f64() / baseline.as_secs_f64().max(1e-12)
    )
}

/// One section of the report: a table and a sentence per row on where the time goes.
#[derive(Debug, Default)]
pub(crate) struct Section {
    pub(crate) title: String,
    pub(crate) rows: Vec<[String; 5]>,
    pub(crate) notes: Vec<String>,
}

impl Section {
    pub(crate) fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            ..Self::default()
        }
    }

    pub(crate) fn row(
        &mut self,
        what: &str,
        ours: String,
        baseline: String,
        ratio: String,
        note: &str,
    ) {
        self.rows
            .push([what.to_owned(), ours, baseline, ratio, note.to_owned()]);
    }

    /// A row of two timings and their ratio.
    pub(crate) fn timed(&mut self, what: &str, ours: Duration, baseline: Duration, note: &str) {
        self.row(
            what,
            show(ours),
            show(baseline),
            ratio(ours, baseline),
            note,
        );
    }

    pub(crate) fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub(crate) fn markdown(&self) -> String {
        let mut out = format!("## {}\n\n", self.title);
        out.push_str(
            "| measured | dlg | baseline | ratio | where the time goes |\n|---|---|---|---|---|\n",
        );
        for [what, ours, baseline, ratio, note] in &self.rows {
            let _ = writeln!(out, "| {what} | {ours} | {baseline} | {ratio} | {note} |");
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n{note}");
        }
        out.push('\n');
        out
    }
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or_else(String::new, |kb| {
            format!(", {:.0} GiB", kb / 1024.0 / 1024.0)
        });
    format!("{cpu}, {cores} cores{memory}")
}

pub(crate) fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
