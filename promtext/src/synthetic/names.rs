//! Metric family names modelled on CockroachDB's `/_status/vars`.
//!
//! Whitespace-separated lists keep the table compact; HELP text for most of
//! them is derived from the name, as it carries the same information.

/// SQL statement kinds; each gets `sql_<kind>_count` and `sql_<kind>_started_count`.
pub(super) const SQL_STATEMENTS: &str = "select insert update delete ddl misc query txn_begin \
    txn_commit txn_rollback txn_abort savepoint copy failure";

/// Job types; each is crossed with [`JOB_STATES`].
pub(super) const JOB_TYPES: &str = "backup restore import changefeed schema_change create_stats \
    auto_create_stats row_level_ttl stream_ingestion migration typedesc_schema_change";

/// Job state suffix, type, and the tail of its HELP text.
pub(super) const JOB_STATES: &[(&str, &str, &str)] = &[
    ("currently_running", "gauge", "currently considered Running"),
    ("currently_paused", "gauge", "currently considered Paused"),
    (
        "resume_completed",
        "counter",
        "which successfully resumed to completion",
    ),
    (
        "resume_failed",
        "counter",
        "which failed with a non-retriable error",
    ),
    (
        "protected_age_sec",
        "gauge",
        "oldest protected timestamp age in seconds",
    ),
];

/// KV request methods counted by the DistSender.
pub(super) const RPC_METHODS: &str = "get put scan revscan conditionalput increment delete \
    deleterange endtxn heartbeattxn pushtxn queryintent export addsstable gc refresh";

/// Admission control work kinds.
pub(super) const WORK_KINDS: &str = "kv kv_stores sql_kv_response sql_sql_response elastic_cpu";

/// Node-level gauges with their real-looking HELP text.
pub(super) const NODE_GAUGES: &[(&str, &str)] = &[
    ("sys_rss", "Current process RSS"),
    ("sys_goroutines", "Current number of goroutines"),
    (
        "sys_go_allocbytes",
        "Current bytes of memory allocated by go",
    ),
    (
        "sys_cgo_allocbytes",
        "Current bytes of memory allocated by cgo",
    ),
    ("sys_cpu_user_percent", "Current user cpu percentage"),
    (
        "sys_cpu_combined_percent_normalized",
        "Current user+system cpu percentage, normalized 0-1",
    ),
    ("sys_fd_open", "Process open file descriptors"),
    ("sys_uptime", "Process uptime"),
    (
        "liveness_livenodes",
        "Number of live nodes in the cluster (will be 0 if this node is not itself live)",
    ),
    (
        "clock_offset_meannanos",
        "Mean clock offset with other nodes",
    ),
    (
        "clock_offset_stddevnanos",
        "Stddev clock offset with other nodes",
    ),
    ("sql_conns", "Number of active sql connections"),
    (
        "gossip_connections_incoming",
        "Number of active incoming gossip connections",
    ),
    (
        "changefeed_max_behind_nanos",
        "Largest commit-to-emit duration of any running feed",
    ),
];

/// Node-level counters with their real-looking HELP text.
pub(super) const NODE_COUNTERS: &[(&str, &str)] = &[
    ("sys_cpu_user_ns", "Total user cpu time"),
    ("sys_gc_count", "Total number of GC runs"),
    ("sys_gc_pause_ns", "Total GC pause"),
    (
        "sys_host_disk_read_bytes",
        "Bytes read from all disks since this process started",
    ),
    (
        "liveness_heartbeatsuccesses",
        "Number of successful node liveness heartbeats from this node",
    ),
    (
        "liveness_heartbeatfailures",
        "Number of failed node liveness heartbeats from this node",
    ),
    (
        "liveness_epochincrements",
        "Number of times this node has incremented its liveness epoch",
    ),
    (
        "txn_commits",
        "Number of committed KV transactions (including 1PC)",
    ),
    ("txn_aborts", "Number of aborted KV transactions"),
    (
        "txn_restarts_writetooold",
        "Number of restarts due to a concurrent writer committing first",
    ),
    (
        "timeseries_write_samples",
        "Total number of metric samples written to disk",
    ),
    (
        "changefeed_emitted_messages",
        "Messages emitted by all feeds",
    ),
    ("sql_bytesin", "Number of sql bytes received"),
];

/// Per-store gauges; HELP is derived from the name.
pub(super) const STORE_GAUGES: &str = "ranges ranges_unavailable ranges_underreplicated \
    ranges_overreplicated replicas replicas_leaders replicas_leaseholders replicas_quiescent \
    replicas_reserved replicas_leaders_not_leaseholders capacity capacity_available \
    capacity_used capacity_reserved livebytes keybytes valbytes totalbytes intentbytes \
    livecount keycount valcount intentcount sysbytes syscount gcbytes abortspanbytes \
    lastupdatenanos rebalancing_queriespersecond rebalancing_writespersecond \
    rocksdb_read_amplification rocksdb_num_sstables rocksdb_block_cache_usage \
    rocksdb_memtable_total_size rocksdb_estimated_pending_compaction \
    rocksdb_table_readers_mem_estimate raft_entrycache_bytes raft_entrycache_size \
    raft_heartbeats_pending raft_enqueued_pending raft_process_tickingnanos \
    txnwaitqueue_pushee_waiting txnwaitqueue_pusher_waiting txnwaitqueue_query_waiting \
    kv_closed_timestamp_max_behind_nanos kv_concurrency_locks kv_concurrency_lock_wait_queue_waiters \
    kv_rangefeed_catchup_scan_nanos tscache_skl_pages tscache_skl_rotations \
    queue_replicate_purgatory queue_split_purgatory queue_gc_info_numkeysaffected \
    follower_reads_success_count";

/// Per-store counters; HELP is derived from the name.
pub(super) const STORE_COUNTERS: &str = "leases_success leases_error leases_transfers_success \
    leases_transfers_error leases_epoch leases_expiration rocksdb_block_cache_hits \
    rocksdb_block_cache_misses rocksdb_bloom_filter_prefix_checked \
    rocksdb_bloom_filter_prefix_useful rocksdb_compactions rocksdb_flushes \
    rocksdb_ingested_bytes rocksdb_flushed_bytes rocksdb_compacted_bytes_read \
    rocksdb_compacted_bytes_written raft_ticks raft_commandsapplied raft_process_workingnanos \
    raft_entrycache_hits raft_entrycache_accesses raft_rcvd_dropped_bytes \
    addsstable_applications addsstable_copies addsstable_proposals addsstable_delay_total \
    intents_abort_attempts intents_resolve_attempts intents_poison_attempts \
    requests_slow_latch requests_slow_lease requests_slow_raft requests_backpressure_split \
    txnrecovery_attempts_total txnrecovery_successes_committed txnrecovery_successes_aborted \
    txnrecovery_failures range_splits range_merges range_adds range_removes \
    range_snapshots_generated range_snapshots_applied_voter range_raftleadertransfers \
    compactor_suggestionbytes_compacted compactor_compactions_success \
    queue_replicate_addreplica queue_replicate_removereplica queue_replicate_rebalancereplica \
    queue_replicate_transferlease queue_replicate_removedeadreplica \
    queue_replicate_replacedeadreplica queue_replicate_removedecommissioningreplica \
    queue_gc_info_intentsconsidered queue_gc_info_abortspanscanned";

/// Replica queues; each is crossed with [`QUEUE_STATS`].
pub(super) const QUEUES: &str =
    "replicate split merge gc raftlog raftsnapshot consistency replicagc tsmaintenance";

/// Queue statistic suffix, type, and the head of its HELP text.
pub(super) const QUEUE_STATS: &[(&str, &str, &str)] = &[
    (
        "process_success",
        "counter",
        "Number of replicas successfully processed by the",
    ),
    (
        "process_failure",
        "counter",
        "Number of replicas which failed processing in the",
    ),
    ("pending", "gauge", "Number of pending replicas in the"),
    (
        "processingnanos",
        "counter",
        "Nanoseconds spent processing replicas in the",
    ),
];

/// Raft message types, as `raft_rcvd_<type>` counters.
pub(super) const RAFT_MESSAGES: &str = "prop app appresp vote voteresp prevote prevoteresp snap \
    heartbeat heartbeatresp transferleader timeoutnow dropped";

/// Histograms: name, per-store or not, log2 of the first bucket's scale, bucket count.
pub(super) const HISTOGRAMS: &[(&str, bool, u32, u32)] = &[
    ("liveness_heartbeatlatency", false, 18, 56),
    ("sql_service_latency", false, 17, 58),
    ("sql_exec_latency", false, 16, 58),
    ("sql_txn_latency", false, 17, 56),
    ("sql_distsql_exec_latency", false, 15, 54),
    ("round_trip_latency", false, 14, 52),
    ("exec_latency", false, 13, 55),
    ("txn_durations", false, 16, 57),
    ("admission_wait_durations_kv", false, 12, 50),
    ("raft_process_logcommit_latency", true, 15, 54),
    ("raft_process_commandcommit_latency", true, 9, 52),
    ("raft_process_handleready_latency", true, 8, 55),
];
