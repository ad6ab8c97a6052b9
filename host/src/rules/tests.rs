use super::{Held, RuleEntry, RuleStatus, Rules, eval, words_to_operators};
use crate::store::{Collected, Outcome};
use dbmon_connector_api::Status;
use dbmon_proto as proto;

fn metric(name: &str, value: f64, labels: &[(&str, &str)]) -> proto::Metric {
    proto::Metric {
        name: name.into(),
        value,
        labels: labels
            .iter()
            .map(|(k, v)| proto::Label {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
        ..Default::default()
    }
}

fn node(id: &str, metrics: Vec<proto::Metric>) -> proto::Node {
    proto::Node {
        id: id.into(),
        address: format!("{id}:1"),
        status: proto::NodeStatus::Live as i32,
        metrics,
        labels: Vec::new(),
    }
}

/// A checked report, as a connector's arrives.
fn report(
    status: proto::Status,
    metrics: Vec<proto::Metric>,
    nodes: Vec<proto::Node>,
) -> Collected {
    let report = proto::Report {
        cluster_id: "c".into(),
        connector: "test".into(),
        collected_at: Some(std::time::SystemTime::now().into()),
        status: status as i32,
        reasons: match status {
            proto::Status::Healthy => Vec::new(),
            _ => vec!["the connector's reason".into()],
        },
        metrics,
        nodes,
        ..Default::default()
    };
    match crate::ingest::wire::pushed(report).unwrap().outcome {
        Outcome::Collected(c) => c,
        _ => unreachable!("no error set"),
    }
}

fn rule(yaml: &str) -> RuleEntry {
    serde_yaml_ng::from_str(yaml).unwrap()
}

fn rules(entries: &[&str]) -> Rules {
    let entries: Vec<RuleEntry> = entries.iter().map(|e| rule(e)).collect();
    Rules::compile(&[], &entries).unwrap()
}

/// The verdict of `report` after `rules`, applied as the agent does.
fn judged(rules: &Rules, mut report: Collected, held: &mut Held) -> Collected {
    if let Some(verdict) = rules.judge(&report, held) {
        report.judged(verdict);
    }
    report
}

fn health(green: f64, nodes: f64) -> Collected {
    report(
        proto::Status::Healthy,
        vec![metric("green", green, &[]), metric("nodes", nodes, &[])],
        Vec::new(),
    )
}

#[test]
fn a_rule_raises_the_verdict_once_it_held_for_its_reports_in_a_row() {
    let rules = rules(&[
        r#"{when: "green == 0", status: degraded, reason: "cluster health is not green", for: 2}"#,
        r#"{when: "nodes < 3", status: unhealthy, reason: "only {nodes} nodes"}"#,
    ]);
    let mut held = Held::default();
    let first = judged(&rules, health(0.0, 3.0), &mut held);
    assert_eq!(
        first.status(),
        Status::Healthy,
        "for: 2 needs a second report"
    );
    assert!(first.fired().is_empty());
    let second = judged(&rules, health(0.0, 3.0), &mut held);
    assert_eq!(second.status(), Status::Degraded);
    assert_eq!(second.reasons(), ["cluster health is not green"]);
    assert_eq!(&*second.fired()[0].rule, "green == 0");
    // A report where it does not hold starts the count again.
    let _ = judged(&rules, health(1.0, 3.0), &mut held);
    let again = judged(&rules, health(0.0, 3.0), &mut held);
    assert_eq!(again.status(), Status::Healthy);
    // The worst fired rule wins; its reason is filled in.
    let both = judged(&rules, health(0.0, 2.0), &mut held);
    assert_eq!(both.status(), Status::Unhealthy);
    assert_eq!(
        both.reasons(),
        ["cluster health is not green", "only 2 nodes"]
    );
}

#[test]
fn a_rule_never_lowers_the_connectors_verdict_unless_it_overrides() {
    let unhealthy = || {
        report(
            proto::Status::Unhealthy,
            vec![metric("lag", 5.0, &[])],
            Vec::new(),
        )
    };
    let raise = rules(&[r#"{when: "lag > 1", status: degraded}"#]);
    let kept = judged(&raise, unhealthy(), &mut Held::default());
    assert_eq!(kept.status(), Status::Unhealthy);
    assert_eq!(kept.reasons(), ["the connector's reason", "lag > 1"]);
    let known = rules(&[
        r#"{when: "lag < 10", status: healthy, override: true, name: known-lag, reason: "lag {value} is expected here"}"#,
    ]);
    let lowered = judged(&known, unhealthy(), &mut Held::default());
    assert_eq!(lowered.status(), Status::Healthy);
    assert_eq!(&*lowered.fired()[0].rule, "known-lag");
    assert_eq!(lowered.fired()[0].reason, "lag 5 is expected here");
}

#[test]
fn a_rule_over_node_metrics_is_evaluated_per_node_and_names_it() {
    let rules = rules(&[
        r#"{when: "node.lag_seconds > 30", status: degraded, reason: "replica {node} lags {value}s"}"#,
    ]);
    let report = report(
        proto::Status::Healthy,
        Vec::new(),
        vec![
            node("a", vec![metric("lag_seconds", 2.0, &[])]),
            node("b", vec![metric("lag_seconds", 42.5, &[])]),
            // A node without the metric does not hold the rule, and is no error.
            node("c", Vec::new()),
        ],
    );
    let judged = judged(&rules, report, &mut Held::default());
    assert_eq!(judged.status(), Status::Degraded);
    assert_eq!(judged.reasons(), ["replica b lags 42.5s"]);
}

#[test]
fn a_labelled_metric_is_judged_per_series_with_its_labels() {
    let rules = rules(&[
        r#"{when: "queue_ready > 100 and labels.vhost == '/'", status: degraded, reason: "queue {labels.queue} holds {value}"}"#,
    ]);
    let report = report(
        proto::Status::Healthy,
        vec![
            metric("queue_ready", 500.0, &[("vhost", "/"), ("queue", "jobs")]),
            metric("queue_ready", 7.0, &[("vhost", "/"), ("queue", "mail")]),
            metric(
                "queue_ready",
                900.0,
                &[("vhost", "other"), ("queue", "big")],
            ),
        ],
        Vec::new(),
    );
    let judged = judged(&rules, report, &mut Held::default());
    assert_eq!(judged.reasons(), ["queue jobs holds 500"]);
}

#[test]
fn a_rule_whose_metric_is_missing_does_not_fire() {
    let rules = rules(&[r#"{when: "missing > 1", status: unhealthy}"#]);
    let judged = judged(&rules, health(1.0, 3.0), &mut Held::default());
    assert_eq!(judged.status(), Status::Healthy);
    assert!(judged.fired().is_empty());
}

#[test]
fn the_connectors_verdict_is_there_to_test() {
    let rules = rules(&[r#"{when: "status == 'healthy' && nodes == 3.0", status: degraded}"#]);
    let judged = judged(&rules, health(1.0, 3.0), &mut Held::default());
    assert_eq!(judged.status(), Status::Degraded);
}

#[test]
fn bad_rules_name_their_field_and_the_position_in_the_expression() {
    let errors =
        Rules::compile(&[], &[rule(r#"{when: "nodes >", status: degraded}"#)]).unwrap_err();
    let (list, index, e) = &errors[0];
    assert_eq!(*list, super::List::Own);
    assert_eq!(*index, 0);
    assert_eq!(e.field, "when");
    assert!(
        e.message.contains("column 8 of the expression"),
        "{}",
        e.message
    );
    let errors = Rules::compile(
        &[],
        &[
            rule(r#"{when: "a > 1", status: healthy}"#),
            rule(r#"{when: "a > 1", status: degraded, for: 0}"#),
            rule(r#"{when: "b > 1", status: degraded, name: x}"#),
            rule(r#"{when: "c > 1", status: degraded, name: x}"#),
        ],
    )
    .unwrap_err();
    let fields: Vec<(usize, &str)> = errors.iter().map(|(_, i, e)| (*i, e.field)).collect();
    assert_eq!(fields, [(0, "status"), (1, "for"), (3, "name")]);
    let unknown: Result<RuleEntry, _> =
        serde_yaml_ng::from_str("{when: a, status: degraded, typo: 1}");
    assert!(unknown.is_err());
    let status: Result<RuleEntry, _> = serde_yaml_ng::from_str("{when: a, status: broken}");
    assert!(status.is_err());
}

#[test]
fn a_clusters_rule_replaces_the_connectors_default_of_the_same_name() {
    let defaults = [rule(
        r#"{when: "nodes < 3", status: unhealthy, name: quorum}"#,
    )];
    let own = [rule(
        r#"{when: "nodes < 2", status: degraded, name: quorum}"#,
    )];
    let rules = Rules::compile(&defaults, &own).unwrap();
    let judged = judged(&rules, health(1.0, 2.0), &mut Held::default());
    assert_eq!(
        judged.status(),
        Status::Healthy,
        "only the cluster's rule counts"
    );
    let both = Rules::compile(&defaults, &[]).unwrap();
    assert_ne!(both, rules);
    assert_eq!(
        RuleStatus::Unhealthy,
        defaults[0].status,
        "the entry keeps its status"
    );
}

#[test]
fn words_become_operators_of_the_same_length_outside_strings() {
    let text = "a > 1 and not b or labels.x == 'and or'";
    let cel = words_to_operators(text);
    assert_eq!(cel.len(), text.len());
    assert_eq!(cel, "a > 1 &&  !   b || labels.x == 'and or'");
    assert_eq!(
        words_to_operators("node.and_more > brand"),
        "node.and_more > brand"
    );
}

#[test]
fn templates_leave_unknown_placeholders_as_written() {
    let filled = eval::fill_for_test("{a} and {b} {unclosed", &[("a", "1")]);
    assert_eq!(filled, "1 and {b} {unclosed");
}

#[test]
fn a_backslash_before_any_character_in_a_string_is_kept_whole() {
    let text = r"labels.x == '\é' and a > 1";
    let cel = words_to_operators(text);
    assert_eq!(cel.len(), text.len());
    assert!(cel.starts_with(r"labels.x == '\é' &&"), "{cel}");
    // A rule with it compiles (or is refused) instead of panicking.
    let _ = Rules::compile(
        &[],
        &[rule(r#"{when: "labels.x == '\\é'", status: degraded}"#)],
    );
}

#[test]
fn a_rule_gives_ten_reasons_and_counts_the_other_places() {
    let rules =
        rules(&[r#"{when: "queue_ready > 0", status: degraded, reason: "{labels.queue}"}"#]);
    let queues: Vec<String> = (0..25).map(|q| format!("q{q:02}")).collect();
    let metrics = queues
        .iter()
        .map(|q| metric("queue_ready", 1.0, &[("queue", q.as_str())]))
        .collect();
    let report = report(proto::Status::Healthy, metrics, Vec::new());
    let judged = judged(&rules, report, &mut Held::default());
    let fired = judged.fired();
    assert_eq!(fired.len(), eval::REASONS_PER_RULE + 1);
    assert_eq!(fired[0].reason, "q00");
    let rest = fired.last().unwrap();
    assert_eq!(rest.places, 15);
    assert_eq!(rest.reason, "queue_ready > 0: and 15 more places");
    assert_eq!(fired.iter().map(|f| f.places).sum::<u32>(), 25);
    assert_eq!(judged.reasons().len(), 11);
}

#[test]
fn the_same_place_twice_counts_once_and_keeps_its_run() {
    let rules = rules(&[r#"{when: "x > 0", status: degraded, for: 2}"#]);
    let twice = || {
        report(
            proto::Status::Healthy,
            vec![
                metric("x", 1.0, &[("k", "v")]),
                metric("x", 1.0, &[("k", "v")]),
            ],
            Vec::new(),
        )
    };
    let mut held = Held::default();
    assert!(judged(&rules, twice(), &mut held).fired().is_empty());
    let second = judged(&rules, twice(), &mut held);
    assert_eq!(second.fired().len(), 1, "{:?}", second.fired());
}

#[test]
fn a_reason_may_name_metrics_its_condition_does_not() {
    let rules = rules(&[
        r#"{when: "nodes < 3", status: degraded, reason: "{nodes} nodes, green {green}"}"#,
    ]);
    let judged = judged(&rules, health(0.0, 2.0), &mut Held::default());
    assert_eq!(judged.reasons(), ["2 nodes, green 0"]);
}
