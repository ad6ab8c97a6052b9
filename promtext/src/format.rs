//! The two text formats, told apart by the response's Content-Type, and the Accept header that
//! asks for them.

/// Which grammar a body follows. The two differ in the details that decide what a sample means:
/// timestamp units, escapes, and how a body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// The Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), and anything that does
    /// not say it is OpenMetrics: timestamps in integer milliseconds, only `\\`, `\"` and `\n`
    /// escapes in label values, no end marker (the last line ends with a line feed).
    #[default]
    Prometheus,
    /// OpenMetrics 1.0 (`application/openmetrics-text`): timestamps in seconds, possibly
    /// fractional; other escapes kept as written; `\"` in HELP text; the body ends with
    /// exactly `# EOF`, and a body without it is incomplete.
    OpenMetrics,
}

/// The `Accept` header a scraper sends. It prefers the 0.0.4 text format, which this parser is
/// tuned for and which gives the same series whichever of the two an exporter offers (OpenMetrics
/// adds a `_created` series per counter, histogram and summary), and takes OpenMetrics from
/// targets that only speak that. Prometheus sends the same kind of header, with its own order.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.4,\
                          text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

impl Format {
    /// The format a response's `Content-Type` names: OpenMetrics for
    /// `application/openmetrics-text` (any version and parameters), otherwise the 0.0.4 text
    /// format, which is also what Prometheus assumes when the header is missing or unknown.
    pub fn from_content_type(content_type: &str) -> Format {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let om = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        assert_eq!(Format::from_content_type(om), Format::OpenMetrics);
        assert_eq!(
            Format::from_content_type("Application/OpenMetrics-Text"),
            Format::OpenMetrics
        );
        for other in [
            "text/plain; version=0.0.4",
            "",
            "text/html",
            "application/json",
        ] {
            assert_eq!(
                Format::from_content_type(other),
                Format::Prometheus,
                "{other}"
            );
        }
    }
}
