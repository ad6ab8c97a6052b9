//! The checks of `extract` and `node_status` rules: paths parsed, one value rule at most,
//! names that the host's Prometheus export can carry.

use crate::extract::{Extract, LabelRule, Source, ValueRule};
use crate::options::{ExtractOptions, Kind, NodeStatusOptions};
use crate::selector::Selector;
use crate::status::StatusRule;
use dbmon_connector_api::{ConfigError, MetricKind};

use super::RESERVED_NAMES;

pub fn check_extract(
    at: &str,
    extract: &ExtractOptions,
    prometheus: bool,
) -> Result<Extract, ConfigError> {
    let name = &extract.name;
    if let Some(problem) = metric_name_problem(name) {
        return Err(ConfigError::at(format!("{at}.name"), problem));
    }
    if RESERVED_NAMES.contains(&name.as_str()) {
        return Err(ConfigError::at(
            format!("{at}.name"),
            format!("'{name}' is the connector's own series; choose another name"),
        ));
    }
    let rules = [
        extract.equals.is_some(),
        extract.one_of.is_some(),
        extract.exists,
        extract.count,
    ];
    if rules.iter().filter(|r| **r).count() > 1 {
        return Err(ConfigError::at(
            at,
            "use at most one of equals, in, exists and count",
        ));
    }
    let value = if let Some(expected) = &extract.equals {
        scalar(&format!("{at}.equals"), expected)?;
        ValueRule::Equals(expected.clone())
    } else if let Some(list) = &extract.one_of {
        for (k, v) in list.iter().enumerate() {
            scalar(&format!("{at}.in[{k}]"), v)?;
        }
        ValueRule::OneOf(list.clone())
    } else if extract.exists {
        ValueRule::Exists
    } else if extract.count {
        ValueRule::Count
    } else {
        ValueRule::Number
    };
    let source = if prometheus {
        prometheus_source(at, extract)?
    } else {
        json_source(at, extract)?
    };
    let mut labels = Vec::new();
    for (label, path) in &extract.labels {
        let field = format!("{at}.labels.{label}");
        if let Some(problem) = label_name_problem(label) {
            return Err(ConfigError::at(&field, problem));
        }
        if prometheus {
            return Err(ConfigError::at(
                &field,
                "with format: prometheus a series keeps the sample's own labels; pick samples \
                 with match:",
            ));
        }
        let selector = Selector::parse(path).map_err(|e| ConfigError::at(&field, e))?;
        labels.push(LabelRule {
            name: label.clone(),
            selector,
        });
    }
    Ok(Extract {
        name: name.clone(),
        unit: extract.unit.clone(),
        kind: match extract.kind {
            Kind::Gauge => MetricKind::Gauge,
            Kind::Counter => MetricKind::Counter,
        },
        help: extract.help.clone(),
        source,
        value,
        labels,
        required: extract.required,
        field: at.to_string(),
    })
}

fn json_source(at: &str, extract: &ExtractOptions) -> Result<Source, ConfigError> {
    if let Some(label) = extract.matches.keys().next() {
        return Err(ConfigError::at(
            format!("{at}.match.{label}"),
            "match: picks Prometheus samples; it needs format: prometheus",
        ));
    }
    let path = extract.path.as_deref().unwrap_or("$");
    let path = Selector::parse(path).map_err(|e| ConfigError::at(format!("{at}.path"), e))?;
    let each = match &extract.each {
        None => None,
        Some(each) => {
            Some(Selector::parse(each).map_err(|e| ConfigError::at(format!("{at}.each"), e))?)
        }
    };
    let regex = match &extract.regex {
        None => None,
        Some(text) => Some(regex::Regex::new(text).map_err(|e| {
            ConfigError::at(
                format!("{at}.regex"),
                format!("not a valid regular expression: {e}"),
            )
        })?),
    };
    Ok(Source::Json { each, path, regex })
}

fn prometheus_source(at: &str, extract: &ExtractOptions) -> Result<Source, ConfigError> {
    for (field, set) in [
        ("each", extract.each.is_some()),
        ("regex", extract.regex.is_some()),
    ] {
        if set {
            return Err(ConfigError::at(
                format!("{at}.{field}"),
                format!("{field} reads a JSON or text answer, not format: prometheus"),
            ));
        }
    }
    let Some(series) = &extract.path else {
        return Err(ConfigError::at(
            at,
            "with format: prometheus, path: names the series to take (path: up)",
        ));
    };
    let valid = series.chars().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic() || matches!(c, '_' | ':') || (i > 0 && c.is_ascii_digit())
    });
    if series.is_empty() || !valid {
        return Err(ConfigError::at(
            format!("{at}.path"),
            format!("'{series}' is not a Prometheus series name ([a-zA-Z_:][a-zA-Z0-9_:]*)"),
        ));
    }
    for label in extract.matches.keys() {
        if let Some(problem) = label_name_problem(label) {
            return Err(ConfigError::at(format!("{at}.match.{label}"), problem));
        }
    }
    Ok(Source::Prometheus {
        series: series.clone(),
        matches: extract
            .matches
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

pub fn status_rule(at: &str, rule: &NodeStatusOptions) -> Result<StatusRule, ConfigError> {
    use dbmon_connector_api::NodeStatus as S;
    let selector =
        Selector::parse(&rule.path).map_err(|e| ConfigError::at(format!("{at}.path"), e))?;
    let lists = [
        ("live", S::Live, &rule.live),
        ("draining", S::Draining, &rule.draining),
        ("initializing", S::Initializing, &rule.initializing),
        ("decommissioning", S::Decommissioning, &rule.decommissioning),
        ("decommissioned", S::Decommissioned, &rule.decommissioned),
        ("unavailable", S::Unavailable, &rule.unavailable),
        ("dead", S::Dead, &rule.dead),
    ];
    let mut statuses = Vec::new();
    for (field, status, values) in lists {
        for (k, v) in values.iter().enumerate() {
            scalar(&format!("{at}.{field}[{k}]"), v)?;
        }
        if !values.is_empty() {
            statuses.push((status, values.clone()));
        }
    }
    if statuses.is_empty() {
        return Err(ConfigError::at(
            at,
            "list the values of at least one status (live: [up, ok])",
        ));
    }
    Ok(StatusRule { selector, statuses })
}

fn scalar(at: &str, value: &serde_json::Value) -> Result<(), ConfigError> {
    match value {
        serde_json::Value::String(_)
        | serde_json::Value::Number(_)
        | serde_json::Value::Bool(_) => Ok(()),
        other => Err(ConfigError::at(
            at,
            format!("compare with a string, number or boolean; got {other}"),
        )),
    }
}

/// Why `name` cannot name a metric: lowercase snake_case, as the host's Prometheus export
/// expects.
fn metric_name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    (!first || !rest).then(|| {
        format!(
            "'{}' is not a metric name: use lowercase letters, digits and '_', starting with a \
             letter (number_of_nodes)",
            name.escape_debug()
        )
    })
}

fn label_name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!first || !rest).then(|| {
        format!(
            "'{}' is not a label name: use letters, digits and '_', starting with a letter",
            name.escape_debug()
        )
    })
}
