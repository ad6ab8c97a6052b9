//! Helpers shared by the integration tests.
#![allow(dead_code)]

use dbmon_promtext::{Entry, Format, ParseError, Parser, Sample};

/// Every entry, panicking on the first error.
pub fn entries(body: &str) -> Vec<Entry<'_>> {
    Parser::new(body)
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("unexpected parse error: {e}"))
}

/// Every sample, panicking on any error.
pub fn samples(body: &str) -> Vec<Sample<'_>> {
    entries(body)
        .into_iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// The only sample of a one-sample body.
pub fn one(body: &str) -> Sample<'_> {
    let mut all = samples(body);
    assert_eq!(all.len(), 1, "expected exactly one sample in {body:?}");
    all.remove(0)
}

/// The errors of a body, in order.
pub fn errors(body: &str) -> Vec<ParseError> {
    Parser::new(body).filter_map(Result::err).collect()
}

/// `(name, value)` pairs of a sample's labels, as owned strings.
pub fn label_pairs(sample: &Sample<'_>) -> Vec<(String, String)> {
    sample
        .labels()
        .map(|l| (l.name.to_string(), l.value.into_owned()))
        .collect()
}

/// Every result of parsing `body` as OpenMetrics.
pub fn om_results(body: &str) -> Vec<Result<Entry<'_>, ParseError>> {
    Parser::with_format(body, Format::OpenMetrics).collect()
}

/// Every sample of an OpenMetrics body, panicking on any error.
pub fn om_samples(body: &str) -> Vec<Sample<'_>> {
    om_results(body)
        .into_iter()
        .filter_map(|r| match r {
            Ok(Entry::Sample(s)) => Some(s),
            Ok(_) => None,
            Err(e) => panic!("unexpected parse error: {e}"),
        })
        .collect()
}

/// The errors of an OpenMetrics body, in order.
pub fn om_errors(body: &str) -> Vec<ParseError> {
    om_results(body)
        .into_iter()
        .filter_map(Result::err)
        .collect()
}
