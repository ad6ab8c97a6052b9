//! The embedded databases considered for the file store, on dbmon's workload: N clusters each
//! appending one packed report per round (a record like the host's: a small head and the
//! values XOR-packed against the previous report, a keyframe every 50), commits of
//! `--batch` reports with one durable commit (fsync) each, trims keeping the last `--keep`
//! per cluster in the same commits; then the database is closed, reopened and every
//! cluster's retained reports are read back (the file store's restart).
//!
//! It prints, per candidate: appends/s, commits, CPU and disk bytes written per report
//! (`/proc/self/io` `write_bytes`), the files' size, and the reopen and read-back times.
//! Candidates: redb 2.6 (what the host uses), fjall 2.11 (LSM; the newest release that
//! builds with rust-version 1.88), SQLite 3 in WAL mode with `synchronous=FULL` (rusqlite,
//! bundled). The page cache stays warm between the writes and the read-back.

use clap::Parser;
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

#[derive(Parser, Debug)]
#[command(about = "Embedded databases on the file store's workload")]
struct Args {
    /// redb, fjall, fjall-kv (fjall with key-value separation), sqlite; comma-separated.
    #[arg(long, default_value = "redb,fjall,sqlite")]
    candidates: String,
    #[arg(long, default_value_t = 1000)]
    clusters: usize,
    /// Reports per cluster to append (the run stops earlier at --max-seconds).
    #[arg(long, default_value_t = 150)]
    rounds: u64,
    /// Reports per commit (1: a commit per report).
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Reports kept per cluster.
    #[arg(long, default_value_t = 100)]
    keep: u64,
    /// Series per report.
    #[arg(long, default_value_t = 3000)]
    series: usize,
    /// Percentage of the series whose value moves from one report to the next.
    #[arg(long, default_value_t = 37)]
    changing_percent: u64,
    /// Stop appending after this long (each candidate).
    #[arg(long, default_value_t = 50)]
    max_seconds: u64,
    /// Where the temporary databases go.
    #[arg(long, default_value = "/tmp")]
    dir: PathBuf,
}

/// What every candidate does.
trait Candidate {
    /// Writes these reports and removes these keys in one durable commit.
    fn commit(&mut self, puts: &[(&str, u64, &[u8])], dels: &[(&str, u64)]);
    /// Every stored report of cluster `id`: (count, bytes).
    fn read_cluster(&self, id: &str) -> (usize, usize);
}

struct Redb {
    db: redb::Database,
}

const REPORTS: redb::TableDefinition<(&str, u64), &[u8]> = redb::TableDefinition::new("reports");

impl Redb {
    fn open(dir: &Path) -> Redb {
        let db = redb::Database::create(dir.join("reports.redb")).expect("redb");
        let txn = db.begin_write().unwrap();
        txn.open_table(REPORTS).unwrap();
        txn.commit().unwrap();
        Redb { db }
    }
}

impl Candidate for Redb {
    fn commit(&mut self, puts: &[(&str, u64, &[u8])], dels: &[(&str, u64)]) {
        let txn = self.db.begin_write().unwrap();
        {
            let mut t = txn.open_table(REPORTS).unwrap();
            for (id, seq, bytes) in puts {
                t.insert((*id, *seq), *bytes).unwrap();
            }
            for (id, seq) in dels {
                t.remove((*id, *seq)).unwrap();
            }
        }
        txn.commit().unwrap();
    }

    fn read_cluster(&self, id: &str) -> (usize, usize) {
        let txn = self.db.begin_read().unwrap();
        let t = txn.open_table(REPORTS).unwrap();
        let mut out = (0, 0);
        for row in t.range((id, 0)..=(id, u64::MAX)).unwrap() {
            let (_, v) = row.unwrap();
            out.0 += 1;
            out.1 += v.value().len();
        }
        out
    }
}

struct Fjall {
    keyspace: fjall::Keyspace,
    reports: fjall::PartitionHandle,
}

impl Fjall {
    fn open(dir: &Path, kv_separation: bool) -> Fjall {
        let keyspace = fjall::Config::new(dir.join("fjall")).open().expect("fjall");
        let mut options = fjall::PartitionCreateOptions::default();
        if kv_separation {
            options = options.with_kv_separation(fjall::KvSeparationOptions::default());
        }
        let reports = keyspace.open_partition("reports", options).unwrap();
        Fjall { keyspace, reports }
    }

    fn key(id: &str, seq: u64) -> Vec<u8> {
        let mut k = Vec::with_capacity(id.len() + 9);
        k.extend_from_slice(id.as_bytes());
        k.push(0);
        k.extend_from_slice(&seq.to_be_bytes());
        k
    }
}

impl Candidate for Fjall {
    fn commit(&mut self, puts: &[(&str, u64, &[u8])], dels: &[(&str, u64)]) {
        let mut batch = self
            .keyspace
            .batch()
            .durability(Some(fjall::PersistMode::SyncAll));
        for (id, seq, bytes) in puts {
            batch.insert(&self.reports, Fjall::key(id, *seq), *bytes);
        }
        for (id, seq) in dels {
            batch.remove(&self.reports, Fjall::key(id, *seq));
        }
        batch.commit().unwrap();
    }

    fn read_cluster(&self, id: &str) -> (usize, usize) {
        let mut prefix = id.as_bytes().to_vec();
        prefix.push(0);
        let mut out = (0, 0);
        for row in self.reports.prefix(prefix) {
            let (_, v) = row.unwrap();
            out.0 += 1;
            out.1 += v.len();
        }
        out
    }
}

struct Sqlite {
    conn: rusqlite::Connection,
}

impl Sqlite {
    fn open(dir: &Path) -> Sqlite {
        let conn = rusqlite::Connection::open(dir.join("reports.sqlite")).expect("sqlite");
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch(
            "PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS reports (cluster TEXT NOT NULL, seq INTEGER NOT NULL,
                 body BLOB NOT NULL, PRIMARY KEY (cluster, seq));",
        )
        .unwrap();
        Sqlite { conn }
    }
}

impl Candidate for Sqlite {
    fn commit(&mut self, puts: &[(&str, u64, &[u8])], dels: &[(&str, u64)]) {
        let txn = self.conn.transaction().unwrap();
        {
            let mut insert = txn
                .prepare_cached("INSERT INTO reports (cluster, seq, body) VALUES (?1, ?2, ?3)")
                .unwrap();
            for (id, seq, bytes) in puts {
                insert.execute((id, *seq as i64, bytes)).unwrap();
            }
            let mut delete = txn
                .prepare_cached("DELETE FROM reports WHERE cluster = ?1 AND seq = ?2")
                .unwrap();
            for (id, seq) in dels {
                delete.execute((id, *seq as i64)).unwrap();
            }
        }
        txn.commit().unwrap();
    }

    fn read_cluster(&self, id: &str) -> (usize, usize) {
        let mut q = self
            .conn
            .prepare_cached("SELECT body FROM reports WHERE cluster = ?1 ORDER BY seq")
            .unwrap();
        let mut rows = q.query([id]).unwrap();
        let mut out = (0, 0);
        while let Some(row) = rows.next().unwrap() {
            let body = row.get_ref(0).unwrap().as_blob().unwrap();
            out.0 += 1;
            out.1 += body.len();
        }
        out
    }
}

fn open(name: &str, dir: &Path) -> Box<dyn Candidate> {
    match name {
        "redb" => Box::new(Redb::open(dir)),
        "fjall" => Box::new(Fjall::open(dir, false)),
        "fjall-kv" => Box::new(Fjall::open(dir, true)),
        "sqlite" => Box::new(Sqlite::open(dir)),
        other => panic!("unknown candidate {other}"),
    }
}

/// A small xorshift generator: the same values on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One cluster's series moving like a scrape's (as collect_load's targets move them): a
/// quarter zeros, counters growing by 1 to 16, gauges drifting by 0.1 %.
struct Series {
    rng: Rng,
    values: Vec<f64>,
    moving: Vec<u8>,
}

impl Series {
    fn new(n: usize, changing_percent: u64, seed: u64) -> Series {
        let mut rng = Rng(seed | 1);
        let mut values = Vec::with_capacity(n);
        let mut moving = Vec::with_capacity(n);
        for _ in 0..n {
            let r = rng.next() % 100;
            if r < 26 {
                values.push(0.0);
                moving.push(0);
            } else if r < 26 + changing_percent {
                if rng.next().is_multiple_of(2) {
                    values.push((rng.next() % 1_000_000_000) as f64);
                    moving.push(1);
                } else {
                    values.push(rng.unit() * 10f64.powi((rng.next() % 6) as i32));
                    moving.push(2);
                }
            } else {
                values.push((rng.next() % 100_000) as f64);
                moving.push(0);
            }
        }
        Series {
            rng,
            values,
            moving,
        }
    }

    fn step(&mut self) {
        for (v, m) in self.values.iter_mut().zip(&self.moving) {
            match m {
                1 => *v += (1 + self.rng.next() % 16) as f64,
                2 => *v *= 1.0 + (self.rng.unit() - 0.5) * 0.002,
                _ => {}
            }
        }
    }
}

/// The XOR packing of the host's store (`host/src/store/packed.rs`).
fn pack(values: &[f64], base: &[f64], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + values.len().div_ceil(8), 0);
    for (i, (o, n)) in values.iter().zip(base).enumerate() {
        let x = o.to_bits() ^ n.to_bits();
        if x == 0 {
            continue;
        }
        out[start + i / 8] |= 1 << (i % 8);
        let lead = (x.leading_zeros() / 8) as usize;
        let trail = (x.trailing_zeros() / 8) as usize;
        out.push(((lead << 4) | trail) as u8);
        out.extend_from_slice(&x.to_le_bytes()[trail..8 - lead]);
    }
}

/// A cycle of `n` report records of one cluster: an ~80-byte head (the host's facts) and
/// the values packed against the previous report, or against zeros every 50th.
fn records(args: &Args, n: usize) -> Vec<Vec<u8>> {
    let mut series = Series::new(args.series, args.changing_percent, 0x5eed);
    let zeros = vec![0.0; args.series];
    let mut previous = series.values.clone();
    (0..n)
        .map(|i| {
            series.step();
            let mut out = vec![0x11u8; 80];
            let base = if i.is_multiple_of(50) {
                &zeros
            } else {
                &previous
            };
            pack(&series.values, base, &mut out);
            previous.clone_from(&series.values);
            out
        })
        .collect()
}

fn write_bytes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// This process's user + system CPU time.
fn cpu() -> Duration {
    let sample = dbmon_bench::procfs::sample(None).expect("/proc/self is readable");
    Duration::from_secs_f64(sample.cpu_seconds)
}

/// (apparent bytes, allocated bytes) of every file under `dir`.
fn size(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut out = (0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            let (a, b) = size(&entry.path());
            out.0 += a;
            out.1 += b;
        } else {
            out.0 += meta.len();
            out.1 += meta.blocks() * 512;
        }
    }
    out
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn run(name: &str, args: &Args, records: &[Vec<u8>]) -> serde_json::Value {
    let dir = tempfile_dir(&args.dir, name);
    let ids: Vec<String> = (0..args.clusters)
        .map(|i| format!("cluster-{i:04}"))
        .collect();
    let mut db = open(name, &dir);
    let (bytes0, cpu0, t0) = (write_bytes(), cpu(), Instant::now());
    let deadline = t0 + Duration::from_secs(args.max_seconds);
    let (mut appends, mut commits, mut payload, mut rounds) = (0u64, 0u64, 0u64, 0u64);
    let mut puts: Vec<(&str, u64, &[u8])> = Vec::new();
    let mut dels: Vec<(&str, u64)> = Vec::new();
    'rounds: for seq in 1..=args.rounds {
        for (c, id) in ids.iter().enumerate() {
            let record = &records[(seq as usize + c) % records.len()];
            puts.push((id, seq, record));
            payload += record.len() as u64;
            if seq > args.keep {
                dels.push((id, seq - args.keep));
            }
            if puts.len() >= args.batch {
                db.commit(&puts, &dels);
                appends += puts.len() as u64;
                commits += 1;
                puts.clear();
                dels.clear();
                if Instant::now() >= deadline {
                    rounds = seq;
                    break 'rounds;
                }
            }
        }
        rounds = seq;
    }
    if !puts.is_empty() {
        db.commit(&puts, &dels);
        appends += puts.len() as u64;
        commits += 1;
    }
    let wall = t0.elapsed();
    let (cpu_used, written) = (cpu() - cpu0, write_bytes() - bytes0);
    let t_close = Instant::now();
    drop(db);
    let close = t_close.elapsed();
    let (apparent, allocated) = size(&dir);
    let t_open = Instant::now();
    let db = open(name, &dir);
    let opened = t_open.elapsed();
    let (mut rows, mut read) = (0usize, 0usize);
    for id in &ids {
        let (n, b) = db.read_cluster(id);
        rows += n;
        read += b;
    }
    let restart = t_open.elapsed();
    drop(db);
    let retained = rows as u64;
    let per = |x: f64| x / appends as f64;
    println!(
        "{name:9} batch {:4}: {appends} appends in {:.1} s = {:.0}/s, {commits} commits \
         ({:.1}/s), rounds {rounds}; CPU {:.1} µs/report; written {:.1} KB/report (payload \
         {:.1} KB); files {:.1} MiB ({:.1} MiB allocated) for {retained} retained = {:.2} KB \
         each, {:.2}× payload; close {:.2} s, reopen {:.3} s, reopen+read {:.2} s ({} MiB)",
        args.batch,
        wall.as_secs_f64(),
        appends as f64 / wall.as_secs_f64(),
        commits as f64 / wall.as_secs_f64(),
        per(cpu_used.as_secs_f64() * 1e6),
        per(written as f64) / 1000.0,
        per(payload as f64) / 1000.0,
        mib(apparent),
        mib(allocated),
        allocated as f64 / retained.max(1) as f64 / 1000.0,
        allocated as f64 / read.max(1) as f64,
        close.as_secs_f64(),
        opened.as_secs_f64(),
        restart.as_secs_f64(),
        read / (1024 * 1024),
    );
    std::fs::remove_dir_all(&dir).unwrap();
    serde_json::json!({
        "candidate": name, "batch": args.batch, "clusters": args.clusters, "rounds": rounds,
        "appends": appends, "seconds": wall.as_secs_f64(),
        "appends_per_s": appends as f64 / wall.as_secs_f64(), "commits": commits,
        "cpu_us_per_report": per(cpu_used.as_secs_f64() * 1e6),
        "write_bytes_per_report": per(written as f64),
        "payload_bytes_per_report": per(payload as f64),
        "file_bytes": apparent, "allocated_bytes": allocated, "retained": retained,
        "retained_payload_bytes": read,
        "close_s": close.as_secs_f64(), "reopen_s": opened.as_secs_f64(),
        "reopen_read_s": restart.as_secs_f64(),
    })
}

fn tempfile_dir(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(format!("store-candidates-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn main() {
    let args = Args::parse();
    let records = records(&args, 100);
    let sizes: Vec<usize> = records.iter().map(Vec::len).collect();
    println!(
        "{} clusters × {} series, {} % moving: records of {}..{} bytes, mean {:.0} \
         (keyframes {} bytes); {} reports per commit, keep {}",
        args.clusters,
        args.series,
        args.changing_percent,
        sizes.iter().min().unwrap(),
        sizes.iter().max().unwrap(),
        sizes.iter().sum::<usize>() as f64 / sizes.len() as f64,
        sizes[0],
        args.batch,
        args.keep,
    );
    for name in args.candidates.split(',') {
        let result = run(name, &args, &records);
        println!("{result}");
    }
}
