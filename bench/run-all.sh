#!/bin/sh
# Runs every benchmark of BENCHMARKS.md in order and keeps each output in $OUT (default
# target/bench-results). Build first: cargo build --release --workspace
# Takes about 50 minutes (12 without §9); run it on an otherwise idle machine.
# §9 needs Prometheus and vmagent: apt-get install -y prometheus victoria-metrics (it skips
# a tool whose binary is missing, and says so).
set -eu
cd "$(dirname "$0")/.."
OUT=${OUT:-target/bench-results}
mkdir -p "$OUT"
load=./target/release/collect_load
{
    git log -1 --format='commit %H %cd'
    echo "uncommitted files: $(git status --short | wc -l)"
    echo "nproc: $(nproc)"
    grep -m1 'model name' /proc/cpuinfo
    uptime
} > "$OUT/machine.txt"

cargo bench -p dbmon-promtext > "$OUT/parse.txt" 2>&1
./target/release/abi_call --calls 200000 > "$OUT/abi_call.txt" 2>&1
./target/release/grpc_latency --calls 1000 > "$OUT/grpc_latency.txt" 2>&1
# Target 2: 200 clusters, 190 KB bodies, 1 s, until every history holds 100 reports.
$load --clusters 200 --warmup-seconds 10 --seconds 110 > "$OUT/200_changing.txt"
$load --clusters 200 --warmup-seconds 10 --seconds 110 --changing-percent 0 > "$OUT/200_static.txt"
$load --clusters 200 --warmup-seconds 10 --seconds 30 --history 1 > "$OUT/200_history1.txt"
# Target 4: 1,000 clusters at 1 s; 10 clusters for the thread count.
$load --clusters 10 --warmup-seconds 10 --seconds 60 > "$OUT/10_synthetic.txt"
$load --clusters 1000 --warmup-seconds 15 --seconds 60 > "$OUT/1000_synthetic.txt"
$load --clusters 1000 --warmup-seconds 15 --seconds 60 --body small > "$OUT/1000_small.txt"
# §9: side by side with Prometheus and vmagent, 200 targets every 5 s, each tool alone, peak
# RSS once 100 intervals have passed (dbmon's histories full): about 9 minutes per tool.
./target/release/anchors --targets 200 --interval-secs 5 --window-secs 30 --intervals-for-rss 100 > "$OUT/anchors_200.txt"
uptime >> "$OUT/machine.txt"
