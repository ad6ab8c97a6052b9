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

#[test]
fn plain_and_spaced_writings_of_a_set_split_alike() {
    // Exporters' writing takes the parser's fast paths; blanks, escapes, a timestamp or a
    // long value take the general ones. Both must give the same sample.
    let long = "v".repeat(300);
    let cases = [
        (
            "{a=\"1\",bb=\"22\",c_c=\"\"}",
            "{ a = \"1\" , bb=\"22\",\tc_c =\"\" }",
        ),
        (
            "{name_long_enough_to_cross_a_chunk=\"and a value that does too, with é\"}",
            "{name_long_enough_to_cross_a_chunk= \"and a value that does too, with é\"}",
        ),
        ("{x=\"LONG\",}", "{x=\"LONG\" ,}"),
    ];
    for (plain, spaced) in cases {
        let plain = plain.replace("LONG", &long);
        let spaced = spaced.replace("LONG", &long);
        let (body_a, body_b) = (
            format!("metric_name{plain} 1.5\n"),
            format!("metric_name{spaced}  1.5 1000\n"),
        );
        let (a, b) = (one(&body_a), one(&body_b));
        assert_eq!(label_pairs(&a), label_pairs(&b), "{plain} / {spaced}");
        assert_eq!((a.name, a.value), (b.name, b.value));
        for (name, value) in label_pairs(&a) {
            assert_eq!(a.label(&name).as_deref(), Some(value.as_str()));
            assert_eq!(b.label(&name).as_deref(), Some(value.as_str()));
        }
    }
}

#[test]
fn names_and_values_at_the_very_end_of_the_body_split() {
    // No line feed (0.0.4 reads the last line without one): the scans run out of body, not
    // out of line, at every length around the 8- and 16-byte steps.
    for n in 1..40 {
        let name = "n".repeat(n);
        let body = format!("{name}{{{name}=\"{name}\"}} {n}");
        let s = one(&body);
        assert_eq!((s.name, s.value), (name.as_str(), n as f64));
        assert_eq!(label_pairs(&s), pairs(&[(&name, &name)]));
    }
}
