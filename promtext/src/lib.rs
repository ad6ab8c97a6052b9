//! Zero-copy parser for the Prometheus text exposition format (0.0.4) and
//! OpenMetrics 1.0 text, each by its own rules ([`Format`], chosen from the
//! response's Content-Type with [`Format::from_content_type`]; [`ACCEPT`] is the
//! header to ask with). `# UNIT` lines are reported and exemplars are dropped.
//!
//! Names, label text and HELP text are borrowed from the body. Label sets are
//! fully validated while a line is scanned but only split into labels when
//! [`Sample::labels`] or [`Sample::label`] is called, and a value is copied
//! only if it contains an escape sequence.
//!
//! ```
//! use dbmon_promtext::{Entry, MetricType, Parser};
//!
//! let body = concat!(
//!     "# HELP sql_conns Number of open SQL connections\n",
//!     "# TYPE sql_conns gauge\n",
//!     "sql_conns{node_id=\"1\"} 12\n",
//! );
//! let mut open = 0.0;
//! for entry in Parser::new(body) {
//!     match entry? {
//!         Entry::Type { metric, kind } => assert_eq!((metric, kind), ("sql_conns", MetricType::Gauge)),
//!         Entry::Sample(s) if s.name == "sql_conns" => {
//!             assert_eq!(s.label("node_id").as_deref(), Some("1"));
//!             open += s.value;
//!         }
//!         _ => {}
//!     }
//! }
//! assert_eq!(open, 12.0);
//! # Ok::<(), dbmon_promtext::ParseError>(())
//! ```
#![deny(missing_docs)]

mod bytes;
mod error;
mod format;
mod labels;
mod metadata;
mod sample;
mod scan;
#[doc(hidden)]
pub mod synthetic;
mod value;

use std::borrow::Cow;

pub use error::ParseError;
pub use format::{ACCEPT, Format};
pub use labels::{Label, Labels};
pub use metadata::MetricType;
pub use sample::Sample;
pub use scan::{Parser, SamplesWhere};

/// One meaningful line of an exposition body.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// A sample line.
    Sample(Sample<'a>),
    /// `# HELP metric text`.
    Help {
        /// The metric family the text describes.
        metric: &'a str,
        /// The text with `\\` and `\n` resolved; borrowed when it had no escapes.
        text: Cow<'a, str>,
    },
    /// `# TYPE metric kind`.
    Type {
        /// The metric family being typed.
        metric: &'a str,
        /// Its declared type.
        kind: MetricType,
    },
    /// OpenMetrics `# UNIT metric unit`.
    Unit {
        /// The metric family.
        metric: &'a str,
        /// The unit, e.g. `seconds`; may be empty.
        unit: &'a str,
    },
}
