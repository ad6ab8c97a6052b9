//! The one script that appends a report to a cluster's stream: it de-duplicates resent
//! reports and numbers the cluster's reports, atomically across every server sharing the
//! store (all of its keys are in the cluster's hash slot).

use super::conn::Conn;
use redis::{RedisResult, Script, Value};

/// KEYS: 1 the cluster's stream, 2 its meta hash, 3 its schemas hash, 4 its info.
/// ARGV: 1 the sequence the caller's history ends at (its delta's base), 2 collector ('' for
/// none), 3 its run id, 4 its sequence, 5 the record, 6 '1' for a keyframe, 7 the schema's key,
/// 8 the schema's bytes ('' when stored before), 9 the cluster's info ('' to keep it),
/// 10 MAXLEN, 11 MINID ('' for no age limit).
///
/// Answers `{'duplicate', last}` (the cluster's newest report came from this collector's run
/// with a sequence at or above this one), `{'behind', last}` (another server stored reports
/// this one has not read: read them and ask again), `{'rebase', last}` (the store holds fewer
/// reports than the caller: it lost some; send a keyframe), or `{'stored', sequence, id}`.
pub const APPEND: &str = r#"
local meta = redis.call('HMGET', KEYS[2], 'seq', 'collector', 'incarnation', 'csequence')
local last = tonumber(meta[1]) or 0
if ARGV[2] ~= '' and meta[2] == ARGV[2] and meta[3] == ARGV[3]
    and tonumber(ARGV[4]) <= (tonumber(meta[4]) or 0) then
  return {'duplicate', last}
end
local base = tonumber(ARGV[1])
if last > base then
  return {'behind', last}
end
if last < base then
  if ARGV[6] ~= '1' then
    return {'rebase', last}
  end
  last = base
end
local seq = string.format('%d', last + 1)
if ARGV[8] ~= '' then
  redis.call('HSETNX', KEYS[3], ARGV[7], ARGV[8])
end
if ARGV[9] ~= '' then
  redis.call('SET', KEYS[4], ARGV[9])
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[10], '*', 's', seq, 'r', ARGV[5])
if ARGV[11] ~= '' then
  redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[11])
end
redis.call('HSET', KEYS[2], 'seq', seq, 'collector', ARGV[2], 'incarnation', ARGV[3],
  'csequence', ARGV[4])
return {'stored', seq, id}
"#;

/// What the script answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored as `sequence`, stream entry `id`.
    Stored { sequence: u64, id: String },
    /// A resent report, not stored again.
    Duplicate,
    /// The store holds newer reports (up to `last`) than the caller has read.
    Behind { last: u64 },
    /// The store holds fewer reports than the caller (up to `last`): it lost some.
    Rebase { last: u64 },
}

/// One append's arguments.
pub struct Append<'a> {
    pub keys: &'a super::Keys,
    pub base: u64,
    pub origin: Option<&'a crate::store::Origin>,
    pub record: &'a [u8],
    pub keyframe: bool,
    pub schema_key: u64,
    pub schema: Option<&'a [u8]>,
    pub info: Option<&'a [u8]>,
    pub max_len: usize,
    pub min_id: Option<String>,
}

/// Runs the script (EVALSHA, loading it on NOSCRIPT).
pub async fn append(script: &Script, conn: &mut Conn, a: Append<'_>) -> RedisResult<Appended> {
    let (collector, incarnation, csequence) = match a.origin {
        Some(o) => (
            o.collector.to_string(),
            o.incarnation.to_string(),
            o.sequence.to_string(),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    let reply: Vec<Value> = script
        .key(&a.keys.reports)
        .key(&a.keys.meta)
        .key(&a.keys.schemas)
        .key(&a.keys.info)
        .arg(a.base)
        .arg(collector)
        .arg(incarnation)
        .arg(csequence)
        .arg(a.record)
        .arg(if a.keyframe { "1" } else { "0" })
        .arg(a.schema_key.to_string())
        .arg(a.schema.unwrap_or_default())
        .arg(a.info.unwrap_or_default())
        .arg(a.max_len)
        .arg(a.min_id.unwrap_or_default())
        .invoke_async(conn)
        .await?;
    let text = |v: Option<&Value>| -> String {
        match v {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(Value::SimpleString(s)) => s.clone(),
            Some(Value::Int(n)) => n.to_string(),
            _ => String::new(),
        }
    };
    let number = |v: Option<&Value>| text(v).parse::<u64>().unwrap_or(0);
    let answer = match text(reply.first()).as_str() {
        "stored" => Appended::Stored {
            sequence: number(reply.get(1)),
            id: text(reply.get(2)),
        },
        "duplicate" => Appended::Duplicate,
        "behind" => Appended::Behind {
            last: number(reply.get(1)),
        },
        "rebase" => Appended::Rebase {
            last: number(reply.get(1)),
        },
        other => {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Parse,
                "the append script answered something unexpected",
                other.to_string(),
            )));
        }
    };
    Ok(answer)
}
