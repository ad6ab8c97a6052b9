//! HELP, TYPE and other comment lines.

mod common;

use std::borrow::Cow;

use common::entries;
use dbmon_promtext::{Entry, MetricType};

#[test]
fn help_and_type_lines_become_entries() {
    let body = "# HELP sys_rss Current process RSS\n# TYPE sys_rss gauge\nsys_rss 1.2e+08\n";
    let all = entries(body);
    assert_eq!(all.len(), 3);
    assert_eq!(
        all[0],
        Entry::Help {
            metric: "sys_rss",
            text: Cow::Borrowed("Current process RSS")
        }
    );
    assert_eq!(
        all[1],
        Entry::Type {
            metric: "sys_rss",
            kind: MetricType::Gauge
        }
    );
}

#[test]
fn help_text_is_borrowed_without_escapes_and_keeps_raw_tabs() {
    let all = entries("# HELP m a\tb  c\n");
    let Entry::Help { text, .. } = &all[0] else {
        panic!("{all:?}")
    };
    assert!(matches!(text, Cow::Borrowed("a\tb  c")), "{text:?}");
}

#[test]
fn help_text_unescapes_newline_and_backslash() {
    let all = entries("# HELP m first\\nsecond \\\\ path\tend\n");
    let Entry::Help { metric, text } = &all[0] else {
        panic!("{all:?}")
    };
    assert_eq!(*metric, "m");
    assert!(matches!(text, Cow::Owned(_)));
    assert_eq!(text, "first\nsecond \\ path\tend");
}

#[test]
fn help_without_text_is_empty() {
    let all = entries("# HELP m\n# HELP n \n");
    let texts: Vec<_> = all
        .iter()
        .map(|e| match e {
            Entry::Help { text, .. } => text.as_ref(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(texts, ["", ""]);
}

#[test]
fn every_type_keyword_is_recognised() {
    let kinds = [
        ("counter", MetricType::Counter),
        ("gauge", MetricType::Gauge),
        ("histogram", MetricType::Histogram),
        ("summary", MetricType::Summary),
        ("untyped", MetricType::Untyped),
        ("gaugehistogram", MetricType::GaugeHistogram),
        ("stateset", MetricType::StateSet),
        ("info", MetricType::Info),
        ("unknown", MetricType::Unknown),
    ];
    for (keyword, expected) in kinds {
        let body = format!("# TYPE m {keyword}\n");
        assert_eq!(
            entries(&body),
            [Entry::Type {
                metric: "m",
                kind: expected
            }]
        );
        assert_eq!(expected.as_str(), keyword);
    }
}

#[test]
fn extra_blanks_between_comment_tokens_are_tolerated() {
    let all = entries("#  TYPE \t m\t counter \n#\tHELP  m  text\n");
    assert_eq!(
        all[0],
        Entry::Type {
            metric: "m",
            kind: MetricType::Counter
        }
    );
    assert_eq!(
        all[1],
        Entry::Help {
            metric: "m",
            text: Cow::Borrowed("text")
        }
    );
}

#[test]
fn other_comments_are_skipped() {
    let body = "# just a comment\n#\n# HELP\n# TYPE\n#HELPER x y\n# help m lowercase\nm 1\n";
    let all = entries(body);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(matches!(all[0], Entry::Sample(ref s) if s.name == "m"));
}
