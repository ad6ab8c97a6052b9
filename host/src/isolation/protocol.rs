//! The worker protocol: length-prefixed protobuf frames, and the host's report model
//! ([`Collected`]) in its columnar wire form both ways.

use crate::plugins::CollectError;
use crate::store::{Collected, LabelDef, MetricKind, NodeDef, SchemaParts, SeriesDef, Span};
use dbmon_connector_api::{NodeStatus, Status};
use dbmon_proto::worker as proto;
use prost::Message;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Frames larger than this are refused: a worker that sends one is broken.
const MAX_FRAME: usize = 256 << 20;

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    out: &mut W,
    message: &impl Message,
) -> io::Result<()> {
    let body = message.encode_to_vec();
    out.write_all(&(body.len() as u32).to_le_bytes()).await?;
    out.write_all(&body).await?;
    out.flush().await
}

/// Reads one frame; `None` at a clean end of stream.
pub async fn read_frame<R: AsyncRead + Unpin, M: Message + Default>(
    input: &mut R,
) -> io::Result<Option<M>> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes"),
        ));
    }
    let mut body = vec![0u8; len];
    input.read_exact(&mut body).await?;
    M::decode(body.as_slice())
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn span(s: Span) -> [u32; 2] {
    [s.start, s.len]
}

/// The report as it travels from the worker.
pub fn to_wire(r: &Collected) -> proto::WorkerReport {
    let schema = r.schema();
    let series = schema.series();
    let labels = schema
        .all_labels()
        .iter()
        .flat_map(|l| [span(l.key), span(l.value)].concat())
        .collect();
    let nodes = schema
        .node_defs()
        .iter()
        .zip(r.node_status())
        .flat_map(|(n, status)| {
            let [a, b] = span(n.id);
            let [c, d] = span(n.address);
            let [e, f] = span(n.labels);
            [a, b, c, d, u32::from(*status as u8), e, f]
        })
        .collect();
    let report_labels = schema.report_labels_span();
    proto::WorkerReport {
        status: u32::from(r.status() as u8),
        reasons: r.reasons().to_vec(),
        text: schema.text().to_string(),
        series: series
            .iter()
            .flat_map(|s| {
                let [a, b] = span(s.name);
                let [c, d] = span(s.unit);
                let [e, f] = span(s.labels);
                [a, b, c, d, e, f, s.node]
            })
            .collect(),
        labels,
        values: r.values().to_vec(),
        nodes,
        report_labels_start: report_labels.start,
        report_labels_len: report_labels.len,
        kinds: series.iter().map(|s| u32::from(s.kind as u8)).collect(),
        help: series.iter().flat_map(|s| span(s.help)).collect(),
    }
}

/// The report as the host's store takes it, every span checked: a worker runs a connector,
/// and what it sends is no more trusted than what an in-process connector returns.
pub fn from_wire(w: proto::WorkerReport) -> Result<Collected, String> {
    let count = w.series.len() / 7;
    let whole = w.series.len().is_multiple_of(7)
        && w.labels.len().is_multiple_of(4)
        && w.nodes.len().is_multiple_of(7)
        && w.kinds.len() == count
        && w.help.len() == 2 * count;
    if !whole {
        return Err("the worker sent a truncated report".into());
    }
    let series = w
        .series
        .chunks_exact(7)
        .zip(&w.kinds)
        .zip(w.help.chunks_exact(2))
        .map(|((c, kind), help)| SeriesDef {
            name: Span::new(c[0], c[1]),
            unit: Span::new(c[2], c[3]),
            help: Span::new(help[0], help[1]),
            labels: Span::new(c[4], c[5]),
            node: c[6],
            kind: MetricKind::from_code(u8::try_from(*kind).unwrap_or(0)),
        })
        .collect();
    let labels = w
        .labels
        .chunks_exact(4)
        .map(|c| LabelDef {
            key: Span::new(c[0], c[1]),
            value: Span::new(c[2], c[3]),
        })
        .collect();
    let nodes = w
        .nodes
        .chunks_exact(7)
        .map(|c| NodeDef {
            id: Span::new(c[0], c[1]),
            address: Span::new(c[2], c[3]),
            labels: Span::new(c[5], c[6]),
        })
        .collect();
    let node_status = w
        .nodes
        .chunks_exact(7)
        .map(|c| NodeStatus::from_code(u8::try_from(c[4]).unwrap_or(0)))
        .collect();
    let parts = SchemaParts {
        text: w.text,
        series,
        labels,
        nodes,
        report_labels: Span::new(w.report_labels_start, w.report_labels_len),
    };
    Collected::new(
        Status::from_code(u8::try_from(w.status).unwrap_or(0)),
        w.reasons,
        parts,
        w.values.into(),
        node_status,
    )
    .map_err(|e| format!("the worker sent a malformed report: {e}"))
}

/// A failed call on the wire.
pub fn error_to_wire(e: &CollectError) -> proto::WorkerError {
    use proto::WorkerErrorKind as K;
    let kind = match e {
        CollectError::Failed(_) => K::Failed,
        CollectError::Panicked(_) => K::Panicked,
        CollectError::TimedOut(_) => K::TimedOut,
        CollectError::Unsupported(_) => K::Unsupported,
        CollectError::BadInput(_) => K::BadInput,
    };
    proto::WorkerError {
        kind: kind as i32,
        message: e.message().to_string(),
    }
}

/// A failed call from the wire.
pub fn error_from_wire(e: proto::WorkerError) -> CollectError {
    use proto::WorkerErrorKind as K;
    let message = e.message;
    match K::try_from(e.kind).unwrap_or(K::Failed) {
        K::Failed => CollectError::Failed(message),
        K::Panicked => CollectError::Panicked(message),
        K::TimedOut => CollectError::TimedOut(message),
        K::Unsupported => CollectError::Unsupported(message),
        K::BadInput => CollectError::BadInput(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Collected {
        let text = "versionv1amsHow long.kvn1h:1b".to_string();
        let series = vec![
            SeriesDef {
                name: Span::new(9, 1),
                unit: Span::new(10, 2),
                help: Span::new(12, 9),
                labels: Span::new(1, 1),
                node: 0,
                kind: MetricKind::Counter,
            },
            SeriesDef {
                name: Span::new(28, 1),
                node: 1,
                kind: MetricKind::Histogram,
                ..SeriesDef::default()
            },
        ];
        let labels = vec![
            LabelDef {
                key: Span::new(0, 7),
                value: Span::new(7, 2),
            },
            LabelDef {
                key: Span::new(21, 1),
                value: Span::new(22, 1),
            },
        ];
        let nodes = vec![NodeDef {
            id: Span::new(23, 2),
            address: Span::new(25, 3),
            labels: Span::default(),
        }];
        let parts = SchemaParts {
            text,
            series,
            labels,
            nodes,
            report_labels: Span::new(0, 1),
        };
        Collected::new(
            Status::Degraded,
            vec!["because".into()],
            parts,
            [1.5, f64::NAN].into(),
            [NodeStatus::Draining].into(),
        )
        .unwrap()
    }

    #[test]
    fn reports_survive_the_round_trip_with_kinds_and_help() {
        let sent = sample();
        let back = from_wire(to_wire(&sent)).unwrap();
        assert_eq!(back.status(), Status::Degraded);
        assert_eq!(back.schema(), sent.schema());
        assert_eq!(back.node_status(), [NodeStatus::Draining]);
        assert_eq!(back.values()[0], 1.5);
        assert!(back.values()[1].is_nan());
        assert_eq!(back.reasons(), ["because"]);
        let schema = back.schema();
        let a = schema.series()[0];
        assert_eq!(a.kind, MetricKind::Counter);
        assert_eq!(schema.str(a.help), "How long.");
        assert_eq!(schema.series()[1].kind, MetricKind::Histogram);
        assert_eq!(schema.str(schema.report_labels()[0].value), "v1");
    }

    #[test]
    fn a_malformed_or_truncated_wire_report_is_refused() {
        let mut w = to_wire(&sample());
        w.help[1] = 999;
        let err = from_wire(w).unwrap_err();
        assert!(err.contains("malformed"), "{err}");
        let mut w = to_wire(&sample());
        w.kinds.pop();
        assert!(from_wire(w).unwrap_err().contains("truncated"));
        let mut w = to_wire(&sample());
        w.series[6] = 5;
        assert!(from_wire(w).is_err(), "a node that is not there");
    }

    #[tokio::test]
    async fn frames_round_trip_and_end_cleanly() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let sent = proto::WorkerRequest {
            id: 7,
            kind: Some(proto::worker_request::Kind::Collect(proto::WorkerCollect {
                sequence: 3,
                timeout_ms: 10,
            })),
        };
        write_frame(&mut a, &sent).await.unwrap();
        drop(a);
        let got: proto::WorkerRequest = read_frame(&mut b).await.unwrap().unwrap();
        assert_eq!(got, sent);
        assert!(
            read_frame::<_, proto::WorkerRequest>(&mut b)
                .await
                .unwrap()
                .is_none()
        );
    }
}
