//! The bytes of the file store. Every value starts with what a reader needs without decoding
//! the rest; strings live once in a schema record that reports refer to by key.
//!
//! A report record: flags (bit 0: keyframe), schema key, collected_at, then the other facts,
//! then the values as XOR bytes ([`Packed`]) against the previous report of the cluster (a
//! delta) or against zeros (a keyframe).

use super::super::{
    ClusterInfo, Origin,
    model::{LabelDef, MetricKind, NodeDef, SchemaParts, SeriesDef, Span},
    packed::Packed,
    report::{Encoding, Report, Schema},
};
use dbmon_connector_api::{NodeStatus, Status};
use std::{
    sync::{Arc, atomic::AtomicUsize},
    time::{Duration, SystemTime},
};

/// Bumped whenever these bytes change meaning; a store of another version is refused.
pub const FORMAT_VERSION: u64 = 1;

/// Bytes that do not decode.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Corrupt(pub String);

fn corrupt(what: &str) -> Corrupt {
    Corrupt(format!("a record does not decode ({what})"))
}

/// Appends values in the store's byte order.
#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
    }
    fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    fn span(&mut self, s: Span) {
        self.u32(s.start);
        self.u32(s.len);
    }
    fn time(&mut self, t: SystemTime) {
        let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        self.u64(since.as_secs());
        self.u32(since.subsec_nanos());
    }
    fn duration(&mut self, d: Duration) {
        self.u64(d.as_nanos().min(u64::MAX as u128) as u64);
    }
}

/// Reads values back, refusing what runs short.
struct In<'a>(&'a [u8]);

impl<'a> In<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        if self.0.len() < n {
            return Err(corrupt("cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Corrupt> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Corrupt> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, Corrupt> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn bytes(&mut self) -> Result<&'a [u8], Corrupt> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn str(&mut self) -> Result<&'a str, Corrupt> {
        std::str::from_utf8(self.bytes()?).map_err(|_| corrupt("text that is not UTF-8"))
    }
    fn span(&mut self) -> Result<Span, Corrupt> {
        Ok(Span::new(self.u32()?, self.u32()?))
    }
    fn time(&mut self) -> Result<SystemTime, Corrupt> {
        let secs = self.u64()?;
        let nanos = self.u32()?;
        SystemTime::UNIX_EPOCH
            .checked_add(Duration::new(secs, nanos.min(999_999_999)))
            .ok_or_else(|| corrupt("a time out of range"))
    }
    fn duration(&mut self) -> Result<Duration, Corrupt> {
        Ok(Duration::from_nanos(self.u64()?))
    }
    /// A count of items that each take at least `min` bytes: refuses counts the rest cannot
    /// hold before anything is allocated for them.
    fn count(&mut self, min: usize) -> Result<usize, Corrupt> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min) > self.0.len() {
            return Err(corrupt("a count beyond the record"));
        }
        Ok(n)
    }
    fn end(&self) -> Result<(), Corrupt> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(corrupt("bytes after the end"))
        }
    }
}

/// A schema's bytes.
pub fn encode_schema(schema: &Schema) -> Vec<u8> {
    let mut out = Out::default();
    out.str(schema.text());
    out.u32(schema.series().len() as u32);
    for s in schema.series() {
        for span in [s.name, s.unit, s.help, s.labels] {
            out.span(span);
        }
        out.u32(s.node);
        out.u8(s.kind as u8);
    }
    out.u32(schema.all_labels().len() as u32);
    for l in schema.all_labels() {
        out.span(l.key);
        out.span(l.value);
    }
    out.u32(schema.node_defs().len() as u32);
    for n in schema.node_defs() {
        for span in [n.id, n.address, n.labels] {
            out.span(span);
        }
    }
    out.span(schema.report_labels_span());
    out.0
}

/// A schema back from its bytes, checked as a connector's would be.
pub fn decode_schema(bytes: &[u8]) -> Result<Schema, Corrupt> {
    let mut r = In(bytes);
    let text = r.str()?.to_owned();
    let series = (0..r.count(37)?)
        .map(|_| {
            Ok(SeriesDef {
                name: r.span()?,
                unit: r.span()?,
                help: r.span()?,
                labels: r.span()?,
                node: r.u32()?,
                kind: MetricKind::from_code(r.u8()?),
            })
        })
        .collect::<Result<Vec<_>, Corrupt>>()?;
    let labels = (0..r.count(16)?)
        .map(|_| {
            Ok(LabelDef {
                key: r.span()?,
                value: r.span()?,
            })
        })
        .collect::<Result<Vec<_>, Corrupt>>()?;
    let nodes = (0..r.count(24)?)
        .map(|_| {
            Ok(NodeDef {
                id: r.span()?,
                address: r.span()?,
                labels: r.span()?,
            })
        })
        .collect::<Result<Vec<_>, Corrupt>>()?;
    let report_labels = r.span()?;
    r.end()?;
    let values = series.len();
    let parts = SchemaParts {
        text,
        series,
        labels,
        nodes,
        report_labels,
    };
    Schema::checked(parts, values).map_err(|e| Corrupt(format!("a schema does not check: {e}")))
}

/// What every report record starts with.
#[derive(Debug, Clone, Copy)]
pub struct Head {
    /// Its values are XOR against zeros, not against the previous report.
    pub keyframe: bool,
    /// Its schema's key.
    pub schema: u64,
    /// When it was collected.
    pub collected_at: SystemTime,
}

/// The head of a report record.
pub fn decode_head(bytes: &[u8]) -> Result<Head, Corrupt> {
    let mut r = In(bytes);
    let flags = r.u8()?;
    Ok(Head {
        keyframe: flags & 1 == 1,
        schema: r.u64()?,
        collected_at: r.time()?,
    })
}

/// A report's record, its values packed against `base` (`None`: a keyframe).
pub fn encode_report(report: &Report, schema: u64, base: Option<&[f64]>) -> Vec<u8> {
    let mut out = Out::default();
    out.u8(u8::from(base.is_none()));
    out.u64(schema);
    out.time(report.collected_at);
    out.duration(report.duration);
    out.u8(report.status as u8);
    out.u32(report.consecutive_failures);
    match report.last_success {
        Some(t) => {
            out.u8(1);
            out.time(t);
        }
        None => out.u8(0),
    }
    out.u32(report.reasons.len() as u32);
    for reason in &report.reasons {
        out.str(reason);
    }
    match &report.error {
        Some(e) => {
            out.u8(1);
            out.str(e);
        }
        None => out.u8(0),
    }
    let statuses: Vec<u8> = report.node_status.iter().map(|s| *s as u8).collect();
    out.bytes(&statuses);
    match &report.origin {
        Some(o) => {
            out.u8(1);
            out.str(&o.collector);
            out.u64(o.incarnation);
            out.u64(o.sequence);
        }
        None => out.u8(0),
    }
    out.u32(report.values.len() as u32);
    let zeros;
    let base = match base {
        Some(b) => b,
        None => {
            zeros = vec![0.0; report.values.len()];
            &zeros
        }
    };
    match Packed::new(&report.values, base) {
        Packed::Xor(bytes) => out.bytes(&bytes),
        Packed::Raw(_) => unreachable!("a base as long as the values"),
    }
    // The rules that fired, after everything else: records written before rules existed
    // end here and read as none fired.
    if !report.fired.is_empty() {
        out.u32(report.fired.len() as u32);
        for fired in &report.fired {
            out.str(&fired.rule);
            out.u8(fired.status as u8);
            out.str(&fired.reason);
            out.u32(fired.places);
        }
    }
    out.0
}

/// What a report record needs from outside it to decode.
pub struct Context<'a> {
    /// Its cluster.
    pub cluster: &'a Arc<str>,
    /// The cluster's connector.
    pub connector: &'a Arc<str>,
    /// Its schema.
    pub schema: Arc<Schema>,
    /// The previous report's values; `None` when there is none (only a keyframe decodes).
    pub base: Option<&'a [f64]>,
    /// What kept encodings count into.
    pub encoded_bytes: &'a Arc<AtomicUsize>,
}

/// A report back from its record.
pub fn decode_report(sequence: u64, bytes: &[u8], cx: Context<'_>) -> Result<Report, Corrupt> {
    let head = decode_head(bytes)?;
    let mut r = In(&bytes[21..]);
    let duration = r.duration()?;
    let status = Status::from_code(r.u8()?);
    let consecutive_failures = r.u32()?;
    let last_success = match r.u8()? {
        0 => None,
        _ => Some(r.time()?),
    };
    let reasons = (0..r.count(4)?)
        .map(|_| r.str().map(str::to_owned))
        .collect::<Result<Vec<_>, Corrupt>>()?;
    let error = match r.u8()? {
        0 => None,
        _ => Some(r.str()?.to_owned()),
    };
    let node_status: Box<[NodeStatus]> = r
        .bytes()?
        .iter()
        .map(|c| NodeStatus::from_code(*c))
        .collect();
    let origin = match r.u8()? {
        0 => None,
        _ => Some(Origin {
            collector: r.str()?.into(),
            incarnation: r.u64()?,
            sequence: r.u64()?,
        }),
    };
    let n = r.u32()? as usize;
    let packed = r.bytes()?;
    let mut fired = Vec::new();
    if !r.0.is_empty() {
        for _ in 0..r.count(13)? {
            fired.push(crate::rules::Fired {
                rule: r.str()?.into(),
                status: Status::from_code(r.u8()?),
                reason: r.str()?.to_owned(),
                places: r.u32()?,
            });
        }
    }
    r.end()?;
    if n != cx.schema.series().len() || node_status.len() != cx.schema.node_defs().len() {
        return Err(corrupt(
            "values or node statuses that do not fit the schema",
        ));
    }
    let zeros;
    let base = match (head.keyframe, cx.base) {
        (true, _) => {
            zeros = vec![0.0; n];
            &zeros[..]
        }
        (false, Some(base)) if base.len() == n => base,
        (false, _) => return Err(corrupt("a delta without the report it is packed against")),
    };
    let values = Packed::unpack_checked(packed, base).ok_or_else(|| corrupt("values"))?;
    Ok(Report {
        cluster: Arc::clone(cx.cluster),
        connector: Arc::clone(cx.connector),
        sequence,
        collected_at: head.collected_at,
        duration,
        status,
        reasons,
        fired,
        error,
        consecutive_failures,
        last_success,
        schema: cx.schema,
        values,
        node_status,
        encoding: Arc::new(Encoding::new(Arc::clone(cx.encoded_bytes))),
        origin,
    })
}

/// A cluster's record: what it is, as it was when it was first stored.
pub fn encode_info(info: &ClusterInfo) -> Vec<u8> {
    let mut out = Out::default();
    out.str(&info.connector);
    out.u32(info.endpoints.len() as u32);
    for e in &info.endpoints {
        out.str(e);
    }
    out.duration(info.interval);
    out.duration(info.timeout);
    out.0
}

/// A cluster's record back.
pub fn decode_info(id: &str, bytes: &[u8]) -> Result<ClusterInfo, Corrupt> {
    let mut r = In(bytes);
    let connector = r.str()?.into();
    let endpoints = (0..r.count(4)?)
        .map(|_| r.str().map(str::to_owned))
        .collect::<Result<Vec<_>, Corrupt>>()?;
    let info = ClusterInfo {
        id: id.into(),
        connector,
        endpoints,
        interval: r.duration()?,
        timeout: r.duration()?,
    };
    r.end()?;
    Ok(info)
}
