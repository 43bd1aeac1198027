//! How each scenario's figures become a row of the table, with its target and raw limit.

use super::Results;
use super::report::{Row, per_second, percent};

/// One row per scenario that ran, in a fixed order.
pub fn describe(results: &Results) -> Vec<Row> {
    let raw_append = results.get("append").map(|f| f.get("raw_rate"));
    let mut rows = Vec::new();
    if let Some(f) = results.get("append") {
        let ratio = f.get("rate") / f.get("raw_rate");
        rows.push(Row {
            scenario: "append (EventLog::append, dedup ids)",
            figure: per_second(f.get("rate")),
            target: "within 80% of the raw limit".into(),
            limit: format!("{} async JetStream publish", per_second(f.get("raw_rate"))),
            ratio: percent(ratio),
            met: Some(ratio >= 0.8),
            noise: percent(f.spread("rate")),
        });
    }
    if let Some(f) = results.get("rest") {
        let (rate, p50, p99) = (f.get("rate"), f.get("p50_ms"), f.get("p99_ms"));
        rows.push(Row {
            scenario: "REST send (64 keep-alive clients)",
            figure: format!("{}, p50 {p50:.1} ms, p99 {p99:.1} ms", per_second(rate)),
            target: "5,000/s, p99 < 25 ms".into(),
            limit: raw_append.map_or("append row".into(), |r| format!("{} (append row)", per_second(r))),
            ratio: raw_append.map_or("n/a".into(), |r| percent(rate / r)),
            met: Some(rate >= 5_000.0 && p99 < 25.0),
            noise: percent(f.spread("rate")),
        });
    }
    if let Some(f) = results.get("flood") {
        let (p50, p99, alone) = (f.get("p50_ms"), f.get("p99_ms"), f.get("alone_p99_ms"));
        rows.push(Row {
            scenario: "flood (one user floods sends, another sends 10/s; limit 20/s)",
            figure: format!(
                "other user p50 {p50:.1} ms, p99 {p99:.1} ms (alone {:.1} / {alone:.1}); flood {}, {} refused",
                f.get("alone_p50_ms"),
                per_second(f.get("flood_rate")),
                percent(f.get("refused"))
            ),
            target: "other user's p99 < 25 ms".into(),
            limit: format!("the same user alone: p99 {alone:.1} ms"),
            ratio: format!("p99 {:.1}x", p99 / alone),
            met: Some(p99 < 25.0),
            noise: percent(f.spread("p99_ms")),
        });
    }
    if let Some(f) = results.get("lag") {
        let (p50, p99, max) = (f.get("p50_ms"), f.get("p99_ms"), f.get("max_ms"));
        rows.push(Row {
            scenario: "projector lag (steady 2,000 events/s)",
            figure: format!("p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.0} ms"),
            target: "p99 < 50 ms".into(),
            limit: "n/a".into(),
            ratio: "n/a".into(),
            met: Some(p99 < 50.0),
            noise: percent(f.spread("p99_ms")),
        });
    }
    if let Some(f) = results.get("ats") {
        let (p50, p99, missing) = (f.get("p50_ms"), f.get("p99_ms"), f.get("missing"));
        rows.push(Row {
            scenario: "ATS event to both participants' screens",
            figure: format!("p50 {p50:.1} ms, p99 {p99:.1} ms, missing {missing:.0}"),
            target: "p99 < 100 ms".into(),
            limit: "n/a".into(),
            ratio: "n/a".into(),
            met: Some(p99 < 100.0 && missing == 0.0),
            noise: percent(f.spread("p99_ms")),
        });
    }
    if let Some(f) = results.get("ws") {
        let (rate, p50, p99) = (f.get("rate"), f.get("p50_ms"), f.get("p99_ms"));
        rows.push(Row {
            scenario: "WebSocket send (64 clients, message.send)",
            figure: format!("{}, p50 {p50:.1} ms, p99 {p99:.1} ms", per_second(rate)),
            target: "8,000/s, p99 < 20 ms".into(),
            limit: raw_append.map_or("append row".into(), |r| format!("{} (append row)", per_second(r))),
            ratio: raw_append.map_or("n/a".into(), |r| percent(rate / r)),
            met: Some(rate >= 8_000.0 && p99 < 20.0),
            noise: percent(f.spread("rate")),
        });
    }
    if let Some(f) = results.get("delivery") {
        let (p50, p99, max, lost) = (f.get("p50_ms"), f.get("p99_ms"), f.get("max_ms"), f.get("lost"));
        rows.push(Row {
            scenario: "delivery (1,000 users, 1,000 msg/s, send to frame)",
            figure: format!("p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.0} ms, lost {lost:.0}"),
            target: "p99 < 25 ms, nothing lost".into(),
            limit: format!(
                "core NATS pub to sub p50 {:.2} ms, p99 {:.2} ms",
                f.get("raw_p50_ms"),
                f.get("raw_p99_ms")
            ),
            ratio: format!("p99 {:.0}x", p99 / f.get("raw_p99_ms")),
            met: Some(p99 < 25.0 && lost == 0.0),
            noise: percent(f.spread("p99_ms")),
        });
    }
    if let Some(f) = results.get("idle") {
        let (rss, per) = (f.get("rss_mb"), f.get("per_session_kb"));
        rows.push(Row {
            scenario: "idle sessions (10,000 authenticated)",
            figure: format!("{rss:.0} MB resident, {per:.1} KB per session ({:.0} open)", f.get("sessions")),
            target: "< 500 MB (< 50 KB per session)".into(),
            limit: "n/a".into(),
            ratio: "n/a".into(),
            met: Some(rss < 500.0 && per < 50.0),
            noise: percent(f.spread("rss_mb")),
        });
    }
    if let Some(f) = results.get("projector") {
        let (rate, raw) = (f.get("rate"), f.get("raw_rate"));
        rows.push(Row {
            scenario: "projector (rebuild, 200,000 messages and their receipts)",
            figure: per_second(rate),
            target: "25,000/s and >= 50% of the raw limit".into(),
            limit: format!("{} batched PostgreSQL insert of the same rows", per_second(raw)),
            ratio: percent(rate / raw),
            met: Some(rate >= 25_000.0 && rate / raw >= 0.5),
            noise: percent(f.spread("rate")),
        });
    }
    if let Some(f) = results.get("partitions") {
        let (one, two, three) = (f.get("rate_1"), f.get("rate_2"), f.get("rate_3"));
        rows.push(Row {
            scenario: "projection, 1/2/3 partitions on as many instances",
            figure: format!(
                "{} / {} / {} (the server's copy by partition took the backlog in at {}, publishing included)",
                per_second(one),
                per_second(two),
                per_second(three),
                per_second(f.get("copy_rate"))
            ),
            target: "n/a (one machine: instances and PostgreSQL share its cores)".into(),
            limit: "n/a".into(),
            ratio: format!("3 partitions: {} of 1", percent(three / one)),
            met: None,
            noise: percent(f.spread("rate_3")),
        });
    }
    if let Some(f) = results.get("replay") {
        let (rate, raw) = (f.get("rate"), f.get("raw_rate"));
        rows.push(Row {
            scenario: "replay (JSON lines, whole log)",
            figure: per_second(rate),
            target: "100,000/s".into(),
            limit: format!("{} raw ordered-consumer read", per_second(raw)),
            ratio: percent(rate / raw),
            met: Some(rate >= 100_000.0),
            noise: percent(f.spread("rate")),
        });
    }
    if let Some(f) = results.get("history") {
        let (p50, p99) = (f.get("p50_ms"), f.get("p99_ms"));
        rows.push(Row {
            scenario: "history (latest 50, 1,000,000 messages stored)",
            figure: format!(
                "p50 {p50:.2} ms, p99 {p99:.2} ms (read models built by one rebuild of the whole log at {})",
                per_second(f.get("rebuild_rate"))
            ),
            target: "p99 < 5 ms".into(),
            limit: "n/a".into(),
            ratio: "n/a".into(),
            met: Some(p99 < 5.0),
            noise: percent(f.spread("p99_ms")),
        });
    }
    rows
}
