//! Metrics in Prometheus's text format, as DM's processes export them.
//!
//! Each process keeps its metric families in the `prometheus` crate's
//! process registry, created once (a `static` `LazyLock` per family,
//! registered through [`register`]), and answers `GET /metrics` with all
//! of them ([`metrics_routes`]): dm-master on its client address beside
//! gRPC and `/status`, dm-worker on `worker-addr`. Families carry DM's
//! names and labels where DM has them (`task`, `source_id`, `worker`, ...).
//!
//! Updating a metric is an atomic add or store: the data path pays nothing
//! more, and a scrape reads the values as they are (`gather` walks the
//! families; nothing is computed for it).

use prometheus::core::Collector;
use prometheus::{Encoder, TextEncoder};

/// Registers `collector` in the process registry and returns it. A family
/// registered twice (two masters in one test process) keeps the first
/// registration; the second is only logged.
pub fn register<C: Collector + Clone + 'static>(collector: C) -> C {
    if let Err(e) = prometheus::register(Box::new(collector.clone())) {
        tracing::debug!(error = %e, "metric family not registered again");
    }
    collector
}

/// Every registered family in Prometheus's text format (version 0.0.4).
pub fn text() -> String {
    let families = prometheus::gather();
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
        tracing::warn!(error = %e, "metrics could not be encoded");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// `GET /metrics`: [`text`].
pub fn metrics_routes() -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(axum::http::header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
                text(),
            )
        }),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use prometheus::{IntGaugeVec, Opts};

    static EXAMPLE: LazyLock<IntGaugeVec> = LazyLock::new(|| {
        super::register(
            IntGaugeVec::new(
                Opts::new("dm_test_example", "a family for the test"),
                &["task"],
            )
            .expect("a valid family"),
        )
    });

    #[test]
    fn registered_families_are_exposed_in_text_format() {
        EXAMPLE.with_label_values(&["t1"]).set(7);
        let text = super::text();
        assert!(text.contains("# TYPE dm_test_example gauge"), "{text}");
        assert!(text.contains("dm_test_example{task=\"t1\"} 7"), "{text}");
        // Registering the same family again keeps the first.
        let again = super::register(
            IntGaugeVec::new(
                Opts::new("dm_test_example", "a family for the test"),
                &["task"],
            )
            .expect("a valid family"),
        );
        again.with_label_values(&["t1"]).set(9);
        assert!(super::text().contains("dm_test_example{task=\"t1\"} 7"));
    }
}
