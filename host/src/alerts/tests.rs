use super::{
    Deliveries,
    deliver::{self, ATTEMPTS, MAX_BACKOFF, backoff},
    engine::Engine,
    payload::{Facts, rfc3339},
    tracker::{Tracker, Transition},
};
use crate::{
    config::{AlertTarget, Alerts},
    plugins::convert,
    store::{ClusterInfo, Collection, Outcome, Store},
};
use dbmon_connector_api::{Report as Builder, Status};
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant, SystemTime},
};

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seconds)
}

#[test]
fn a_verdict_counts_once_it_held_for_the_reports_asked() {
    use Status::*;
    let mut t = Tracker::new(2);
    // Healthy from the start: nothing to say.
    assert_eq!(t.observe(Healthy, at(0)), None);
    assert_eq!(t.observe(Healthy, at(1)), None);
    assert_eq!(t.settled(), Some(Healthy));
    // One unhealthy report is not enough; a healthy one in between starts over.
    assert_eq!(t.observe(Unhealthy, at(2)), None);
    assert_eq!(t.observe(Healthy, at(3)), None);
    assert_eq!(t.observe(Unhealthy, at(4)), None);
    // Unknown is passed over: it neither counts nor breaks the run.
    assert_eq!(t.observe(Unknown, at(5)), None);
    assert_eq!(
        t.observe(Unhealthy, at(6)),
        Some(Transition {
            resolved: None,
            fired: Some((Unhealthy, at(4)))
        })
    );
    assert_eq!(t.observe(Unhealthy, at(7)), None);
    // Another problem: the old alert resolves, the new one fires.
    assert_eq!(t.observe(Unreachable, at(8)), None);
    assert_eq!(
        t.observe(Unreachable, at(9)),
        Some(Transition {
            resolved: Some(Unhealthy),
            fired: Some((Unreachable, at(8)))
        })
    );
    // Recovery needs as many healthy reports in a row.
    assert_eq!(t.observe(Healthy, at(10)), None);
    assert_eq!(t.observe(Unreachable, at(11)), None);
    assert_eq!(t.observe(Healthy, at(12)), None);
    assert_eq!(
        t.observe(Healthy, at(13)),
        Some(Transition {
            resolved: Some(Unreachable),
            fired: None
        })
    );
    assert_eq!(t.settled(), Some(Healthy));
}

#[test]
fn with_for_1_every_change_counts_at_once() {
    let mut t = Tracker::new(1);
    assert_eq!(
        t.observe(Status::Degraded, at(0)).unwrap().fired,
        Some((Status::Degraded, at(0)))
    );
    assert_eq!(
        t.observe(Status::Healthy, at(1)).unwrap().resolved,
        Some(Status::Degraded)
    );
    // `for: 0` is read as 1.
    let mut t = Tracker::new(0);
    assert!(t.observe(Status::Unhealthy, at(0)).is_some());
}

#[test]
fn an_alert_is_what_alertmanager_takes() {
    let reasons = ["replica lag 12s".to_string(), "disk 96% full".to_string()];
    let facts = Facts {
        cluster: "db 1",
        connector: "postgres",
        status: Status::Unhealthy,
        reasons: &reasons,
        starts_at: at(0),
        external_url: Some("https://dbmon.example:9464"),
    };
    let json = serde_json::to_value(facts.alert(at(240))).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "labels": {
                "alertname": "DbmonClusterUnhealthy",
                "cluster": "db 1",
                "connector": "postgres",
                "severity": "critical"
            },
            "annotations": {
                "summary": "cluster db 1 is unhealthy",
                "description": "replica lag 12s; disk 96% full"
            },
            "startsAt": "2023-11-14T22:13:20.000Z",
            "endsAt": "2023-11-14T22:17:20.000Z",
            "generatorURL": "https://dbmon.example:9464/cluster/db%201"
        })
    );
    let degraded = Facts {
        status: Status::Degraded,
        reasons: &[],
        external_url: None,
        ..facts
    }
    .alert(at(1));
    assert_eq!(degraded.labels["alertname"], "DbmonClusterDegraded");
    assert_eq!(degraded.labels["severity"], "warning");
    assert!(degraded.generator_url.is_none());
    let json = serde_json::to_string(&degraded).unwrap();
    assert!(!json.contains("generatorURL"), "{json}");
    let unreachable = Facts {
        status: Status::Unreachable,
        ..facts
    }
    .alert(at(1));
    assert_eq!(unreachable.labels["alertname"], "DbmonClusterUnreachable");
    assert_eq!(unreachable.labels["severity"], "critical");
    assert_eq!(
        rfc3339(SystemTime::UNIX_EPOCH + Duration::from_millis(1_500)),
        "1970-01-01T00:00:01.500Z"
    );
}

#[test]
fn retries_back_off_up_to_a_cap() {
    assert_eq!(backoff(2), Duration::from_millis(500));
    assert_eq!(backoff(3), Duration::from_secs(1));
    assert_eq!(backoff(4), Duration::from_secs(2));
    assert_eq!(backoff(20), MAX_BACKOFF);
    assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    let total: Duration = (2..=ATTEMPTS).map(backoff).sum();
    assert!(total < Duration::from_secs(60), "{total:?}");
}

fn settings(for_reports: usize) -> Alerts {
    Alerts {
        targets: vec![AlertTarget::Webhook("http://hook.test/".into())],
        for_reports,
        resend: Duration::from_secs(60),
        external_url: None,
    }
}

fn report(store: &Store, sequence: u64, status: Status) -> Arc<crate::store::Report> {
    let mut b = Builder::new();
    b.metric("m", 1.0);
    match status {
        Status::Unhealthy => b.unhealthy("primary down"),
        Status::Degraded => b.degraded("lag"),
        _ => {}
    }
    store.cluster("a").unwrap().record_now(Collection {
        sequence,
        started_at: at(sequence),
        duration: Duration::from_millis(1),
        outcome: Outcome::Collected(convert::collected(&b.into_ffi()).unwrap()),
        origin: None,
    })
}

fn store() -> Store {
    Store::new(
        [ClusterInfo {
            id: "a".into(),
            connector: "pg".into(),
            endpoints: vec![],
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        }],
        10,
    )
}

fn batches(rx: &mut tokio::sync::mpsc::Receiver<Arc<[u8]>>) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    while let Ok(body) = rx.try_recv() {
        out.push(serde_json::from_slice(&body).unwrap());
    }
    out
}

#[test]
fn the_engine_fires_resends_and_resolves() {
    let deliveries = Arc::new(Deliveries::default());
    let (queue, mut rx) = deliver::channel("http://hook.test/", Arc::clone(&deliveries));
    let mut engine = Engine::new(settings(2), vec![queue], Arc::clone(&deliveries));
    let store = store();
    let now = at(100);
    engine.observe(&report(&store, 1, Status::Healthy), now);
    engine.observe(&report(&store, 2, Status::Unhealthy), now);
    assert!(batches(&mut rx).is_empty());
    let third = report(&store, 3, Status::Unhealthy);
    engine.observe(&third, now);
    // The same report again (a notice read twice) changes nothing.
    engine.observe(&third, now);
    let sent = batches(&mut rx);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let alert = &sent[0][0];
    assert_eq!(alert["labels"]["alertname"], "DbmonClusterUnhealthy");
    assert_eq!(alert["labels"]["cluster"], "a");
    assert_eq!(alert["labels"]["connector"], "pg");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["annotations"]["description"], "primary down");
    assert_eq!(alert["startsAt"], rfc3339(at(2)));
    assert_eq!(alert["endsAt"], rfc3339(now + Duration::from_secs(240)));
    assert_eq!(engine.firing(), 1);
    assert_eq!(deliveries.firing.load(Ordering::Relaxed), 1);
    // Resent once `resend` passed, not before.
    let start = Instant::now();
    engine.resend_due(start, now);
    assert!(batches(&mut rx).is_empty());
    let later = start + Duration::from_secs(61);
    engine.resend_due(later, now + Duration::from_secs(61));
    let resent = batches(&mut rx);
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0][0]["startsAt"], rfc3339(at(2)));
    // Healthy for 2 reports: resolved, ending now.
    engine.observe(&report(&store, 4, Status::Healthy), now);
    assert!(batches(&mut rx).is_empty());
    let recovered = at(200);
    engine.observe(&report(&store, 5, Status::Healthy), recovered);
    let resolved = batches(&mut rx);
    assert_eq!(resolved.len(), 1);
    let alert = &resolved[0][0];
    assert_eq!(alert["labels"]["alertname"], "DbmonClusterUnhealthy");
    assert_eq!(alert["startsAt"], rfc3339(at(2)));
    assert_eq!(alert["endsAt"], rfc3339(recovered));
    assert_eq!(engine.firing(), 0);
    engine.resend_due(start + Duration::from_secs(1000), recovered);
    assert!(batches(&mut rx).is_empty());
}

#[test]
fn another_problem_resolves_the_old_alert_and_fires_its_own_in_one_batch() {
    let deliveries = Arc::new(Deliveries::default());
    let (queue, mut rx) = deliver::channel("http://hook.test/", Arc::clone(&deliveries));
    let mut engine = Engine::new(settings(1), vec![queue], deliveries);
    let store = store();
    engine.observe(&report(&store, 1, Status::Degraded), at(10));
    assert_eq!(batches(&mut rx).len(), 1);
    engine.observe(&report(&store, 2, Status::Unhealthy), at(20));
    let sent = batches(&mut rx);
    assert_eq!(sent.len(), 1);
    let alerts = sent[0].as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["labels"]["alertname"], "DbmonClusterDegraded");
    assert_eq!(alerts[0]["endsAt"], rfc3339(at(20)));
    assert_eq!(alerts[1]["labels"]["alertname"], "DbmonClusterUnhealthy");
    assert_eq!(alerts[1]["startsAt"], rfc3339(at(2)));
}

#[test]
fn a_full_queue_drops_and_counts_never_waits() {
    let deliveries = Arc::new(Deliveries::default());
    let (queue, _rx) = deliver::channel("http://hook.test/", Arc::clone(&deliveries));
    for _ in 0..deliver::QUEUE + 3 {
        queue.push(Arc::from(&b"[]"[..]));
    }
    assert_eq!(deliveries.dropped.load(Ordering::Relaxed), 3);
}

#[test]
fn deliveries_are_shown_only_when_alerts_are_sent() {
    let d = Deliveries::default();
    assert!(d.by_result().is_empty());
    assert_eq!(d.firing(), None);
    d.enabled.store(true, Ordering::Relaxed);
    d.sent.store(4, Ordering::Relaxed);
    assert_eq!(d.by_result(), [("sent", 4), ("retried", 0), ("dropped", 0)]);
    assert_eq!(d.firing(), Some(0));
}
