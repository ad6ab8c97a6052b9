//! The one place a connector's `FfiReport` becomes the host's own report model
//! ([`Collected`]): every range is checked here, since a connector's output is not trusted to
//! be well formed. Past this point nothing in the host sees the FFI types.

use crate::store::{Collected, LabelDef, MetricKind, NodeDef, SchemaParts, SeriesDef, Span};
use dbmon_connector_api::{NodeStatus, Status, ffi};

fn span(s: ffi::Span) -> Span {
    Span::new(s.start, s.len)
}

/// The host's form of `report`, or why it is malformed (the message says so: it becomes the
/// collection's error).
pub fn collected(report: &ffi::FfiReport) -> Result<Collected, String> {
    checked(report).map_err(|e| format!("connector returned a malformed report: {e}"))
}

fn checked(report: &ffi::FfiReport) -> Result<Collected, String> {
    let series = report
        .series
        .iter()
        .map(|s| SeriesDef {
            name: span(s.name),
            unit: span(s.unit),
            help: span(s.help),
            labels: span(s.labels),
            node: s.node,
            // Codes of a newer ABI minor read as unknown.
            kind: MetricKind::from_code(s.kind.0),
        })
        .collect();
    let labels = report
        .labels
        .iter()
        .map(|l| LabelDef {
            key: span(l.key),
            value: span(l.value),
        })
        .collect();
    let nodes = report
        .nodes
        .iter()
        .map(|n| NodeDef {
            id: span(n.id),
            address: span(n.address),
            labels: span(n.labels),
        })
        .collect();
    let parts = SchemaParts {
        text: report.text.as_str().to_owned(),
        series,
        labels,
        nodes,
        report_labels: span(report.report_labels),
    };
    Collected::new(
        Status::from_code(report.status),
        report
            .reasons
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
        parts,
        report.values.as_slice().into(),
        report
            .nodes
            .iter()
            .map(|n| NodeStatus::from_code(n.status))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbmon_connector_api::Report as Builder;

    fn sample() -> ffi::FfiReport {
        let mut r = Builder::new();
        r.label("version", "v1");
        r.metric("a", 1.5).unit("ms").label("k", "v");
        let n = r.node("n1", NodeStatus::Draining);
        r.node_address(n, "h:1");
        r.node_metric(n, "b", 2.0);
        r.degraded("because");
        r.into_ffi()
    }

    #[test]
    fn a_well_formed_report_converts_with_every_string_in_place() {
        let c = collected(&sample()).unwrap();
        assert_eq!(c.status(), Status::Degraded);
        assert_eq!(c.reasons(), ["because"]);
        assert_eq!(c.values(), [1.5, 2.0]);
        assert_eq!(c.node_status(), [NodeStatus::Draining]);
        let schema = c.schema();
        let names: Vec<&str> = schema.series().iter().map(|s| schema.str(s.name)).collect();
        assert_eq!(names, ["a", "b"]);
        let a = schema.series()[0];
        assert_eq!(schema.str(a.unit), "ms");
        assert_eq!(schema.series()[1].node, 1);
        let label = schema.labels(a.labels)[0];
        assert_eq!((schema.str(label.key), schema.str(label.value)), ("k", "v"));
        let node = schema.nodes().next().unwrap();
        assert_eq!((node.id, node.address), ("n1", "h:1"));
        let version = schema.report_labels()[0];
        assert_eq!(schema.str(version.value), "v1");
    }

    #[test]
    fn kinds_and_help_reach_the_model_and_unknown_codes_read_as_unknown() {
        let mut r = Builder::new();
        r.metric("up", 1.0);
        r.metric("req_total", 5.0).counter().help("Requests served");
        r.metric("lat_bucket", 2.0)
            .kind(dbmon_connector_api::MetricKind::Histogram);
        let mut ffi = r.into_ffi();
        ffi.series[0].kind = ffi::FfiMetricKind(200);
        let c = collected(&ffi).unwrap();
        let schema = c.schema();
        let kinds: Vec<(MetricKind, &str)> = schema
            .series()
            .iter()
            .map(|s| (s.kind, schema.str(s.help)))
            .collect();
        assert_eq!(
            kinds,
            [
                (MetricKind::Unknown, ""),
                (MetricKind::Counter, "Requests served"),
                (MetricKind::Histogram, ""),
            ]
        );
    }

    #[test]
    fn a_help_span_outside_the_text_is_refused() {
        let mut ffi = sample();
        ffi.series[0].help = ffi::Span {
            start: 0,
            len: 10_000,
        };
        assert!(collected(&ffi).is_err());
    }

    #[test]
    fn kinds_have_the_abi_codes() {
        for (code, kind) in [
            (0, MetricKind::Unknown),
            (1, MetricKind::Gauge),
            (2, MetricKind::Counter),
            (3, MetricKind::Histogram),
            (4, MetricKind::Summary),
            (5, MetricKind::Unknown),
            (u8::MAX, MetricKind::Unknown),
        ] {
            assert_eq!(MetricKind::from_code(code), kind, "{code}");
        }
        assert_eq!(MetricKind::Counter as u8, 2);
        assert_eq!(MetricKind::Histogram.as_str(), "histogram");
    }

    #[test]
    fn bad_spans_are_refused() {
        type Break = fn(&mut ffi::FfiReport);
        let breaks: [(&str, Break); 9] = [
            ("name past the text", |r| r.series[0].name.len = 999),
            ("unit past the text", |r| r.series[0].unit.start = 1 << 20),
            ("labels past the labels", |r| r.series[0].labels.len = 50),
            ("node past the nodes", |r| r.series[0].node = 7),
            ("label key past the text", |r| r.labels[0].key.len = 999),
            ("node id past the text", |r| r.nodes[0].id.start = 999),
            ("node labels past the labels", |r| {
                r.nodes[0].labels.start = 9
            }),
            ("report labels past the labels", |r| r.report_labels.len = 9),
            ("a value missing", |r| {
                r.values.pop();
            }),
        ];
        for (what, break_it) in breaks {
            let mut report = sample();
            break_it(&mut report);
            assert!(collected(&report).is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn a_span_inside_a_character_is_refused() {
        let mut r = Builder::new();
        r.metric("é", 1.0);
        let mut report = r.into_ffi();
        report.series[0].name.len = 1;
        let err = collected(&report).unwrap_err();
        assert!(err.contains("does not contain"), "{err}");
    }
}
