//! `extract` rules: from an answer (a JSON document, a text, Prometheus samples) to series.

use crate::selector::Selector;
use dbmon_connector_api::MetricKind;
use dbmon_promtext::{Entry, Format, Parser};
use serde_json::Value;

/// One checked `extract` rule.
#[derive(Debug)]
pub struct Extract {
    /// The metric's name.
    pub name: String,
    /// Its unit.
    pub unit: Option<String>,
    /// Gauge or counter.
    pub kind: MetricKind,
    /// One line of help.
    pub help: Option<String>,
    /// Where the values come from.
    pub source: Source,
    /// How a value becomes a figure.
    pub value: ValueRule,
    /// Labels from the document (JSON and text answers).
    pub labels: Vec<LabelRule>,
    /// A missing value is a reason, not a debug line.
    pub required: bool,
    /// The rule's place in the configuration (`options.requests[0].extract[1]`).
    pub field: String,
}

/// Where an extract rule finds its values.
#[derive(Debug)]
pub enum Source {
    /// A JSON document (or a text, as one JSON string).
    Json {
        /// One series per element of this.
        each: Option<Selector>,
        /// The value, relative to the element (or the document).
        path: Selector,
        /// Applied to the value's text: its matches are the values.
        regex: Option<regex::Regex>,
    },
    /// The samples of a Prometheus body.
    Prometheus {
        /// The series name.
        series: String,
        /// Label values a sample must have.
        matches: Vec<(String, String)>,
    },
}

/// How the selected values become a figure.
#[derive(Debug)]
pub enum ValueRule {
    /// The value itself: a number, a boolean (1/0) or a numeric string.
    Number,
    /// 1 when the value equals this, else 0.
    Equals(Value),
    /// 1 when the value is one of these, else 0.
    OneOf(Vec<Value>),
    /// 1 when something is selected, else 0.
    Exists,
    /// How many values are selected.
    Count,
}

/// A label whose value comes from the document.
#[derive(Debug)]
pub struct LabelRule {
    /// The label's name.
    pub name: String,
    /// Where its value is, relative to the element (or the document).
    pub selector: Selector,
}

/// One series an extract rule gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Labels, in the rule's order (a Prometheus sample's own order).
    pub labels: Vec<(String, String)>,
    /// The figure.
    pub value: f64,
}

/// What a rule found in one answer: its series, and why some are missing.
#[derive(Debug, Default)]
pub struct Found {
    /// The series.
    pub samples: Vec<Sample>,
    /// Why a series is missing (nothing selected, not a number, ...).
    pub missing: Vec<String>,
}

impl Extract {
    /// What tells this rule's series apart: its label names (sorted), or the samples' own.
    pub fn label_source(&self) -> Vec<String> {
        match self.source {
            Source::Prometheus { .. } => vec!["(the samples' labels)".into()],
            Source::Json { .. } => {
                let mut names: Vec<String> = self.labels.iter().map(|l| l.name.clone()).collect();
                names.sort();
                names
            }
        }
    }

    /// Whether this rule reads Prometheus series `name`.
    pub fn takes_series(&self, name: &str) -> bool {
        matches!(&self.source, Source::Prometheus { series, .. } if series == name)
    }

    /// The series of a JSON (or text) answer.
    pub fn read_json(&self, document: &Value) -> Found {
        let Source::Json { each, path, regex } = &self.source else {
            return Found::default();
        };
        let mut found = Found::default();
        let elements = match each {
            None => vec![document],
            Some(each) => {
                let elements = spread(each.select(document));
                if elements.is_empty() {
                    found.missing.push(format!("each: {each} selects nothing"));
                }
                elements
            }
        };
        for element in elements {
            let selected = path.select(element);
            let values: Vec<Value> = match regex {
                None if matches!(self.value, ValueRule::Count) => {
                    spread(selected).into_iter().cloned().collect()
                }
                None => selected.into_iter().cloned().collect(),
                Some(regex) => selected
                    .iter()
                    .flat_map(|v| matches(regex, &text(v)))
                    .map(Value::String)
                    .collect(),
            };
            match self.figure(&values) {
                Ok(value) => found.samples.push(Sample {
                    labels: self.labels_of(element),
                    value,
                }),
                Err(why) => found.missing.push(format!("path {path}: {why}")),
            }
        }
        found
    }

    /// The series of the samples of a Prometheus answer.
    pub fn read_prometheus(&self, parsed: &[PromSample]) -> Found {
        let Source::Prometheus { series, matches } = &self.source else {
            return Found::default();
        };
        let samples: Vec<Sample> = parsed
            .iter()
            .filter(|s| {
                s.name == *series
                    && matches
                        .iter()
                        .all(|(k, v)| s.sample.labels.iter().any(|(n, x)| n == k && x == v))
            })
            .map(|s| s.sample.clone())
            .collect();
        let mut found = Found::default();
        match &self.value {
            ValueRule::Count | ValueRule::Exists => {
                let n = samples.len() as f64;
                let value = match self.value {
                    ValueRule::Count => n,
                    _ => bool_value(n > 0.0),
                };
                found.samples.push(Sample {
                    labels: vec![],
                    value,
                });
            }
            _ if samples.is_empty() => {
                let wanted: Vec<String> = matches
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{v}\""))
                    .collect();
                found.missing.push(match wanted.is_empty() {
                    true => format!("no sample named {series}"),
                    false => format!("no sample {series}{{{}}}", wanted.join(",")),
                });
            }
            rule => {
                for mut sample in samples {
                    let value = Value::from(sample.value);
                    sample.value = match rule {
                        ValueRule::Equals(expected) => bool_value(same(expected, &value)),
                        ValueRule::OneOf(list) => bool_value(list.iter().any(|e| same(e, &value))),
                        _ => sample.value,
                    };
                    found.samples.push(sample);
                }
            }
        }
        found
    }

    /// The figure of the values selected in one element.
    fn figure(&self, values: &[Value]) -> Result<f64, String> {
        match &self.value {
            ValueRule::Count => return Ok(values.len() as f64),
            ValueRule::Exists => return Ok(bool_value(!values.is_empty())),
            _ => {}
        }
        let value = match values {
            [] => return Err("selects nothing".into()),
            [one] => one,
            more => {
                return Err(format!(
                    "selects {} values where one is needed (each: gives one series per element)",
                    more.len()
                ));
            }
        };
        match &self.value {
            ValueRule::Equals(expected) => Ok(bool_value(same(expected, value))),
            ValueRule::OneOf(list) => Ok(bool_value(list.iter().any(|e| same(e, value)))),
            _ => number(value).ok_or_else(|| {
                let shown: String = text(value).chars().take(40).collect();
                format!("'{shown}' is not a number (use equals:, in: or exists: for text)")
            }),
        }
    }

    /// The labels of one element: a label whose path selects no single scalar is left out.
    fn labels_of(&self, element: &Value) -> Vec<(String, String)> {
        self.labels
            .iter()
            .filter_map(|rule| match rule.selector.select(element).as_slice() {
                [one] if !one.is_array() && !one.is_object() && !one.is_null() => {
                    Some((rule.name.clone(), text(one)))
                }
                other => {
                    tracing::debug!(
                        metric = %self.name,
                        label = %rule.name,
                        selected = other.len(),
                        "label path selects no single value; label left out"
                    );
                    None
                }
            })
            .collect()
    }
}

/// A sample of a Prometheus answer.
#[derive(Debug, Clone)]
pub struct PromSample {
    /// The series name.
    pub name: String,
    /// Its labels and value.
    pub sample: Sample,
}

/// The samples of `body` whose name `wanted` keeps, parsed once for every rule of a request;
/// `Err` when nothing in it reads as Prometheus text.
pub fn parse_prometheus(
    body: &str,
    format: Format,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<PromSample>, String> {
    let mut samples = Vec::new();
    let (mut read, mut first_error) = (0usize, None);
    for entry in Parser::with_format(body, format) {
        match entry {
            Ok(Entry::Sample(sample)) => {
                read += 1;
                if wanted(sample.name) {
                    let labels = sample
                        .labels()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect();
                    samples.push(PromSample {
                        name: sample.name.to_string(),
                        sample: Sample {
                            labels,
                            value: sample.value,
                        },
                    });
                }
            }
            Ok(_) => read += 1,
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    match first_error {
        Some(e) if read == 0 => Err(format!("the body is not Prometheus text ({e})")),
        _ => Ok(samples),
    }
}

/// One selected array stands for its elements.
fn spread(selected: Vec<&Value>) -> Vec<&Value> {
    match selected.as_slice() {
        [Value::Array(items)] => items.iter().collect(),
        _ => selected,
    }
}

/// Every match of `regex` in `text`: its first capture group, else the whole match.
fn matches(regex: &regex::Regex, text: &str) -> Vec<String> {
    regex
        .captures_iter(text)
        .filter_map(|c| c.get(1).or_else(|| c.get(0)))
        .map(|m| m.as_str().to_string())
        .collect()
}

/// A value as text: a string as it is, anything else as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether `actual` is `expected`: numbers by value, anything else as text.
pub fn same(expected: &Value, actual: &Value) -> bool {
    match (number_only(expected), number_only(actual)) {
        (Some(a), Some(b)) => a == b,
        _ => text(expected) == text(actual),
    }
}

fn number_only(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|_| !s.trim().is_empty()),
        _ => None,
    }
}

/// A value as a figure: a number, a boolean (1/0), a numeric string.
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Bool(b) => Some(bool_value(*b)),
        other => number_only(other),
    }
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(each: Option<&str>, path: &str, value: ValueRule, labels: &[(&str, &str)]) -> Extract {
        Extract {
            name: "m".into(),
            unit: None,
            kind: MetricKind::Gauge,
            help: None,
            source: Source::Json {
                each: each.map(|e| Selector::parse(e).unwrap()),
                path: Selector::parse(path).unwrap(),
                regex: None,
            },
            value,
            labels: labels
                .iter()
                .map(|(n, p)| LabelRule {
                    name: n.to_string(),
                    selector: Selector::parse(p).unwrap(),
                })
                .collect(),
            required: false,
            field: "options.requests[0].extract[0]".into(),
        }
    }

    #[test]
    fn values_are_numbers_booleans_and_numeric_strings() {
        let doc = json!({"n": 3, "b": true, "s": " 2.5 ", "t": "green", "z": null});
        let value = |p| rule(None, p, ValueRule::Number, &[]).read_json(&doc);
        assert_eq!(value("$.n").samples[0].value, 3.0);
        assert_eq!(value("$.b").samples[0].value, 1.0);
        assert_eq!(value("/s").samples[0].value, 2.5);
        assert!(value("$.t").missing[0].contains("'green' is not a number"));
        assert!(value("$.z").missing[0].contains("not a number"));
        assert!(value("$.nope").missing[0].contains("selects nothing"));
        assert!(value("$.*").missing[0].contains("selects 5 values"));
    }

    #[test]
    fn comparisons_are_by_text_and_numbers_by_value() {
        assert!(same(&json!("green"), &json!("green")));
        assert!(same(&json!(200), &json!(200.0)));
        assert!(same(&json!("200"), &json!(200)));
        assert!(same(&json!(true), &json!(true)));
        assert!(same(&json!("true"), &json!(true)));
        assert!(!same(&json!("green"), &json!("yellow")));
        let doc = json!({"status": "yellow"});
        let r = rule(
            None,
            "$.status",
            ValueRule::OneOf(vec![json!("green"), json!("yellow")]),
            &[],
        );
        assert_eq!(r.read_json(&doc).samples[0].value, 1.0);
        let r = rule(None, "$.status", ValueRule::Equals(json!("green")), &[]);
        assert_eq!(r.read_json(&doc).samples[0].value, 0.0);
        let r = rule(None, "$.missing", ValueRule::Exists, &[]);
        assert_eq!(r.read_json(&doc).samples[0].value, 0.0);
    }

    #[test]
    fn each_element_is_a_series_labelled_from_the_element() {
        let doc = json!([
            {"Node": "a", "CheckID": "c1", "Status": "critical"},
            {"Node": "b", "CheckID": "c2", "Status": "passing"},
        ]);
        let r = rule(
            Some("$"),
            "$.Status",
            ValueRule::Equals(json!("critical")),
            &[("node", "$.Node"), ("check", "/CheckID")],
        );
        let found = r.read_json(&doc);
        assert_eq!(
            found.samples,
            [
                Sample {
                    labels: vec![("node".into(), "a".into()), ("check".into(), "c1".into())],
                    value: 1.0
                },
                Sample {
                    labels: vec![("node".into(), "b".into()), ("check".into(), "c2".into())],
                    value: 0.0
                },
            ]
        );
        // One array at the path counts its elements; so does $[*].
        for path in ["$", "$[*]"] {
            let count = rule(None, path, ValueRule::Count, &[]).read_json(&doc);
            assert_eq!(count.samples[0].value, 2.0, "{path}");
        }
        let none = rule(Some("$.x"), "$", ValueRule::Number, &[]).read_json(&doc);
        assert!(none.samples.is_empty() && none.missing[0].contains("each: $.x"));
    }

    #[test]
    fn a_regex_picks_values_out_of_text() {
        let doc = Value::String("[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok".into());
        let mut r = rule(None, "$", ValueRule::Count, &[]);
        r.source = Source::Json {
            each: None,
            path: Selector::parse("$").unwrap(),
            regex: Some(regex::Regex::new(r"(?m)^\[-\]").unwrap()),
        };
        assert_eq!(r.read_json(&doc).samples[0].value, 1.0);
    }

    #[test]
    fn prometheus_samples_are_picked_by_name_and_labels() {
        let body = "# TYPE up gauge\nup{job=\"a\"} 1\nup{job=\"b\"} 0\nother 5\n";
        let r = Extract {
            source: Source::Prometheus {
                series: "up".into(),
                matches: vec![("job".into(), "b".into())],
            },
            ..rule(None, "$", ValueRule::Number, &[])
        };
        let parsed = parse_prometheus(body, Format::Prometheus, |_| true).unwrap();
        let found = r.read_prometheus(&parsed);
        assert_eq!(
            found.samples,
            [Sample {
                labels: vec![("job".into(), "b".into())],
                value: 0.0
            }]
        );
        let count = Extract {
            source: Source::Prometheus {
                series: "up".into(),
                matches: vec![],
            },
            ..rule(None, "$", ValueRule::Count, &[])
        };
        assert_eq!(count.read_prometheus(&parsed).samples[0].value, 2.0);
    }
}
