//! Label sets: syntax corners, escapes, and when values are borrowed.

mod common;

use std::borrow::Cow;

use common::{label_pairs, one};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn labels_come_back_in_order_and_raw_text_is_exact() {
    let s = one("capacity_available{store=\"1\",node_id=\"3\"} 1.2e+11\n");
    assert_eq!(s.raw_labels(), "store=\"1\",node_id=\"3\"");
    assert_eq!(label_pairs(&s), pairs(&[("store", "1"), ("node_id", "3")]));
}

#[test]
fn values_without_escapes_are_borrowed() {
    let s = one("m{a=\"plain\",b=\"\"} 1\n");
    for label in s.labels() {
        assert!(matches!(label.value, Cow::Borrowed(_)), "{label:?}");
    }
    assert!(matches!(s.label("a"), Some(Cow::Borrowed("plain"))));
}

#[test]
fn escaped_quote_backslash_and_newline_are_resolved() {
    let s = one(r#"m{path="C:\\dir",msg="say \"hi\"\nbye",plain="x"} 1"#);
    let labels: Vec<_> = s.labels().collect();
    assert_eq!(labels[0].value, "C:\\dir");
    assert_eq!(labels[1].value, "say \"hi\"\nbye");
    assert!(matches!(labels[0].value, Cow::Owned(_)));
    // A plain value next to escaped ones is still borrowed.
    assert!(matches!(labels[2].value, Cow::Borrowed("x")));
    assert_eq!(s.label("msg").as_deref(), Some("say \"hi\"\nbye"));
}

#[test]
fn delimiters_inside_quoted_values_are_data() {
    let s = one("m{q=\"a}b,c=d{\",r=\"=\"} 2\n");
    assert_eq!(label_pairs(&s), pairs(&[("q", "a}b,c=d{"), ("r", "=")]));
    assert_eq!(s.value, 2.0);
}

#[test]
fn trailing_comma_is_allowed() {
    let s = one("m{a=\"b\",} 1\n");
    assert_eq!(label_pairs(&s), pairs(&[("a", "b")]));
}

#[test]
fn empty_label_set_has_no_labels() {
    let s = one("m{} 1\n");
    assert_eq!(s.raw_labels(), "");
    assert_eq!(s.labels().count(), 0);
    assert_eq!(one("m 1\n").labels().count(), 0);
}

#[test]
fn blanks_around_label_tokens_are_tolerated() {
    let s = one("m { a = \"1\" ,\tb=\"2\" , } 5\n");
    assert_eq!(label_pairs(&s), pairs(&[("a", "1"), ("b", "2")]));
    assert_eq!(s.value, 5.0);
}

#[test]
fn lookup_finds_only_exact_names() {
    let s = one("m{le=\"+Inf\",level=\"3\"} 1\n");
    assert_eq!(s.label("le").as_deref(), Some("+Inf"));
    assert_eq!(s.label("level").as_deref(), Some("3"));
    assert_eq!(s.label("l"), None);
    assert_eq!(s.label("lev"), None);
}

#[test]
fn non_ascii_values_survive() {
    let s = one("m{city=\"Zürich\",emoji=\"🚀\\\"\"} 1\n");
    assert_eq!(
        label_pairs(&s),
        pairs(&[("city", "Zürich"), ("emoji", "🚀\"")])
    );
}
