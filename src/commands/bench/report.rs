//! When each message was sent and received, the figures drawn from that, and the report.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{BenchBus, BenchStore, Plan};

/// Send and receipt times of every message of a run, in nanoseconds after `origin` plus
/// one (zero: not yet).
#[derive(Debug)]
pub(crate) struct Timeline {
    origin: Instant,
    sent: Vec<AtomicU64>,
    received: Vec<AtomicU64>,
    accepted: Vec<AtomicU64>,
    /// Receipts that named no message of the run, or came twice.
    pub(crate) strays: AtomicUsize,
    /// Sends that failed (not accepted by the hub, or not confirmed by the broker).
    pub(crate) failed: AtomicUsize,
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

impl Timeline {
    /// A timeline of `count` messages starting now.
    pub(crate) fn new(count: u64) -> Self {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        Timeline {
            origin: Instant::now(),
            sent: (0..count).map(|_| AtomicU64::new(0)).collect(),
            received: (0..count).map(|_| AtomicU64::new(0)).collect(),
            accepted: (0..count).map(|_| AtomicU64::new(0)).collect(),
            strays: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
        }
    }

    /// The start.
    pub(crate) fn origin(&self) -> Instant {
        self.origin
    }

    fn slot(slots: &[AtomicU64], index: u64) -> Option<&AtomicU64> {
        usize::try_from(index).ok().and_then(|i| slots.get(i))
    }

    /// Message `index` was (due to be) sent `at` after the start.
    pub(crate) fn sent(&self, index: u64, at: Duration) {
        if let Some(slot) = Self::slot(&self.sent, index) {
            slot.store(nanos(at), Ordering::Relaxed);
        }
    }

    /// The hub answered 202 to message `index` now.
    pub(crate) fn accepted(&self, index: u64) {
        if let Some(slot) = Self::slot(&self.accepted, index) {
            slot.store(nanos(self.origin.elapsed()), Ordering::Relaxed);
        }
    }

    /// Message `index` arrived now; a second arrival or an unknown index is a stray.
    pub(crate) fn received(&self, index: u64) {
        let now = nanos(self.origin.elapsed());
        let first = Self::slot(&self.received, index).is_some_and(|slot| {
            slot.compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        });
        if !first {
            self.strays.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many messages arrived.
    pub(crate) fn received_count(&self) -> usize {
        self.received
            .iter()
            .filter(|slot| slot.load(Ordering::Relaxed) != 0)
            .count()
    }

    /// The figures of the messages from `first` on.
    pub(crate) fn figures(&self, name: &str, what: &str, first: u64) -> RunFigures {
        let first = usize::try_from(first).unwrap_or(usize::MAX);
        let load = |slots: &[AtomicU64], i: usize| {
            slots.get(i).map_or(0, |slot| slot.load(Ordering::Relaxed))
        };
        let mut latencies = Vec::new();
        let mut accept = Vec::new();
        let (mut start, mut end) = (u64::MAX, 0);
        let mut offered = 0;
        for i in first..self.sent.len() {
            let sent = load(&self.sent, i);
            if sent == 0 {
                continue;
            }
            offered += 1;
            start = start.min(sent);
            let received = load(&self.received, i);
            if received != 0 {
                latencies.push(received.saturating_sub(sent));
                end = end.max(received);
            }
            let accepted = load(&self.accepted, i);
            if accepted != 0 {
                accept.push(accepted.saturating_sub(sent));
            }
        }
        let window = Duration::from_nanos(end.saturating_sub(start));
        let received = latencies.len();
        let throughput = if received > 0 && !window.is_zero() {
            received as f64 / window.as_secs_f64()
        } else {
            0.0
        };
        RunFigures {
            name: name.to_owned(),
            what: what.to_owned(),
            offered,
            received,
            lost: offered - received,
            failed: self.failed.load(Ordering::Relaxed),
            strays: self.strays.load(Ordering::Relaxed),
            throughput,
            window,
            latency: Percentiles::of(latencies),
            accept: Percentiles::of(accept),
        }
    }
}

/// Latency percentiles, in nanoseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Percentiles {
    pub(crate) count: usize,
    pub(crate) p50: u64,
    pub(crate) p90: u64,
    pub(crate) p99: u64,
    pub(crate) max: u64,
}

impl Percentiles {
    fn of(mut values: Vec<u64>) -> Self {
        values.sort_unstable();
        let count = values.len();
        // The nearest-rank percentile: the smallest value with at least `permille` of
        // the values at or below it.
        let rank = |permille: usize| {
            let index = (count * permille).div_ceil(1000).saturating_sub(1);
            values.get(index).copied().unwrap_or(0)
        };
        Percentiles {
            count,
            p50: rank(500),
            p90: rank(900),
            p99: rank(990),
            max: values.last().copied().unwrap_or(0),
        }
    }

    fn to_json(self) -> Value {
        json!({
            "count": self.count,
            "p50_ms": ms(self.p50),
            "p90_ms": ms(self.p90),
            "p99_ms": ms(self.p99),
            "max_ms": ms(self.max),
        })
    }
}

fn ms(nanos: u64) -> f64 {
    Duration::from_nanos(nanos).as_secs_f64() * 1000.0
}

/// What one path measured.
#[derive(Debug, Clone)]
pub(crate) struct RunFigures {
    /// Short name (`hub`, `raw-lapin`).
    pub(crate) name: String,
    /// What was measured.
    pub(crate) what: String,
    /// Messages sent in the measured window.
    pub(crate) offered: usize,
    /// Of those, arrived.
    pub(crate) received: usize,
    /// Of those, not arrived by the end of the drain.
    pub(crate) lost: usize,
    /// Sends refused or not confirmed (whole run).
    pub(crate) failed: usize,
    /// Unexpected or repeated receipts (whole run).
    pub(crate) strays: usize,
    /// Messages received per second, from the first measured send to the last receipt.
    pub(crate) throughput: f64,
    /// That window.
    pub(crate) window: Duration,
    /// Send → receipt.
    pub(crate) latency: Percentiles,
    /// Send → the intake's 202 (the hub path only).
    pub(crate) accept: Percentiles,
}

/// The report of a run.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) bus: BenchBus,
    pub(crate) store: BenchStore,
    pub(crate) plan: Plan,
    pub(crate) warmup_secs: u64,
    pub(crate) duration_secs: u64,
    pub(crate) message_bytes: usize,
    pub(crate) runs: Vec<RunFigures>,
}

impl Report {
    fn run(&self, name: &str) -> Option<&RunFigures> {
        self.runs.iter().find(|run| run.name == name)
    }

    fn ratio(&self) -> Option<f64> {
        let hub = self.run("hub")?;
        let raw = self.run("raw-lapin")?;
        (raw.throughput > 0.0).then(|| hub.throughput / raw.throughput)
    }

    /// A readable table.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "transload bench: bus {}, store {}; {} msg/s offered, {} s warm-up + {} s measured, {} messages of {} bytes",
            bus_name(self.bus),
            store_name(self.store),
            self.plan.rate,
            self.warmup_secs,
            self.duration_secs,
            self.plan.total,
            self.message_bytes,
        );
        for run in &self.runs {
            let _ = writeln!(out, "  {:<10} {}", run.name, run.what);
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<10} {:>8} {:>8} {:>6} {:>6} {:>12} {:>8} {:>8} {:>8} {:>8}",
            "path",
            "sent",
            "received",
            "lost",
            "failed",
            "msg/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms"
        );
        for run in &self.runs {
            let l = run.latency;
            let _ = writeln!(
                out,
                "{:<10} {:>8} {:>8} {:>6} {:>6} {:>12.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                run.name,
                run.offered,
                run.received,
                run.lost,
                run.failed,
                run.throughput,
                ms(l.p50),
                ms(l.p90),
                ms(l.p99),
                ms(l.max)
            );
        }
        if let Some(hub) = self.run("hub")
            && hub.accept.count > 0
        {
            let a = hub.accept;
            let _ = writeln!(
                out,
                "\nhub intake (send → 202): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                ms(a.p50),
                ms(a.p90),
                ms(a.p99),
                ms(a.max)
            );
        }
        if let Some(ratio) = self.ratio() {
            let _ = writeln!(
                out,
                "hub throughput / raw lapin throughput: {:.1} %",
                ratio * 100.0
            );
        }
        out
    }

    /// The report as JSON.
    pub(crate) fn to_json(&self) -> Value {
        let runs: Vec<Value> = self
            .runs
            .iter()
            .map(|run| {
                json!({
                    "name": run.name,
                    "what": run.what,
                    "sent": run.offered,
                    "received": run.received,
                    "lost": run.lost,
                    "failed": run.failed,
                    "strays": run.strays,
                    "throughput_per_s": run.throughput,
                    "window_s": run.window.as_secs_f64(),
                    "latency": run.latency.to_json(),
                    "accept_latency": (run.accept.count > 0).then(|| run.accept.to_json()),
                })
            })
            .collect();
        json!({
            "bus": bus_name(self.bus),
            "store": store_name(self.store),
            "rate_per_s": self.plan.rate,
            "warmup_s": self.warmup_secs,
            "duration_s": self.duration_secs,
            "messages": self.plan.total,
            "message_bytes": self.message_bytes,
            "runs": runs,
            "hub_vs_baseline_throughput": self.ratio(),
        })
    }
}

fn bus_name(bus: BenchBus) -> &'static str {
    match bus {
        BenchBus::Embedded => "embedded",
        BenchBus::Amqp => "amqp",
    }
}

fn store_name(store: BenchStore) -> &'static str {
    match store {
        BenchStore::Sqlite => "sqlite",
        BenchStore::Postgres => "postgres",
    }
}
