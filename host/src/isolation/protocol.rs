//! The worker protocol: length-prefixed protobuf frames, and the report in its columnar form
//! both ways.

use abi_stable::std_types::{RString, RVec};
use dbmon_connector_api::ffi::{FfiLabel, FfiNode, FfiReport, FfiSeries, Span};
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
pub fn to_wire(r: &FfiReport) -> proto::WorkerReport {
    let series = r
        .series
        .iter()
        .flat_map(|s| {
            let [a, b] = span(s.name);
            let [c, d] = span(s.unit);
            let [e, f] = span(s.labels);
            [a, b, c, d, e, f, s.node]
        })
        .collect();
    let labels = r
        .labels
        .iter()
        .flat_map(|l| [l.key.start, l.key.len, l.value.start, l.value.len])
        .collect();
    let nodes = r
        .nodes
        .iter()
        .flat_map(|n| {
            [
                n.id.start,
                n.id.len,
                n.address.start,
                n.address.len,
                u32::from(n.status),
                n.labels.start,
                n.labels.len,
            ]
        })
        .collect();
    proto::WorkerReport {
        status: u32::from(r.status),
        reasons: r.reasons.iter().map(|s| s.to_string()).collect(),
        text: r.text.to_string(),
        series,
        labels,
        values: r.values.to_vec(),
        nodes,
        report_labels_start: r.report_labels.start,
        report_labels_len: r.report_labels.len,
    }
}

fn sp(start: u32, len: u32) -> Span {
    Span { start, len }
}

/// The report as the host's store takes it; the store checks every span, as it does for
/// in-process connectors.
pub fn from_wire(w: proto::WorkerReport) -> Result<FfiReport, String> {
    let whole = w.series.len().is_multiple_of(7)
        && w.labels.len().is_multiple_of(4)
        && w.nodes.len().is_multiple_of(7);
    if !whole {
        return Err("the worker sent a truncated report".into());
    }
    let series: RVec<FfiSeries> = w
        .series
        .chunks_exact(7)
        .map(|c| FfiSeries {
            name: sp(c[0], c[1]),
            unit: sp(c[2], c[3]),
            labels: sp(c[4], c[5]),
            node: c[6],
        })
        .collect();
    let labels: RVec<FfiLabel> = w
        .labels
        .chunks_exact(4)
        .map(|c| FfiLabel {
            key: sp(c[0], c[1]),
            value: sp(c[2], c[3]),
        })
        .collect();
    let nodes: RVec<FfiNode> = w
        .nodes
        .chunks_exact(7)
        .map(|c| FfiNode {
            id: sp(c[0], c[1]),
            address: sp(c[2], c[3]),
            status: u8::try_from(c[4]).unwrap_or(0),
            labels: sp(c[5], c[6]),
        })
        .collect();
    Ok(FfiReport {
        status: u8::try_from(w.status).unwrap_or(0),
        reasons: w.reasons.into_iter().map(RString::from).collect(),
        text: RString::from(w.text),
        series,
        values: w.values.into_iter().collect(),
        labels,
        nodes,
        report_labels: sp(w.report_labels_start, w.report_labels_len),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbmon_connector_api::{NodeStatus, Report};

    #[test]
    fn reports_survive_the_round_trip() {
        let mut r = Report::new();
        r.label("version", "v1");
        r.metric("a", 1.5).unit("ms").label("k", "v");
        let n = r.node("n1", NodeStatus::Draining);
        r.node_address(n, "h:1");
        r.node_metric(n, "b", f64::NAN);
        r.degraded("because");
        let ffi = r.into_ffi();
        let back = from_wire(to_wire(&ffi)).unwrap();
        assert_eq!(back.status, ffi.status);
        assert_eq!(back.text.as_str(), ffi.text.as_str());
        assert_eq!(back.series.as_slice(), ffi.series.as_slice());
        assert_eq!(back.labels.as_slice(), ffi.labels.as_slice());
        assert_eq!(back.nodes.as_slice(), ffi.nodes.as_slice());
        assert_eq!(back.report_labels, ffi.report_labels);
        assert_eq!(back.values[0], 1.5);
        assert!(back.values[1].is_nan());
        assert_eq!(back.reasons[0].as_str(), "because");
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
