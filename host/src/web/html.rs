//! HTML pieces: escaping, the page shell, verdict badges and times.

use std::time::{Duration, SystemTime};

/// `text` safe inside HTML text and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `segment` safe as one segment of a URL path (everything but unreserved characters is
/// percent-encoded); escape the URL too when it goes into HTML.
pub fn path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A whole page: `title` (escaped here), the way back to the site's root from the page
/// (`./` or `../`, so that the page works behind a proxy's prefix) and the page's `main`
/// (HTML, escaped by the caller).
pub fn page(title: &str, root: &str, main: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"{root}assets/style.css\">\n\
         </head>\n<body data-root=\"{root}\">\n<header>\n<p class=\"brand\"><a href=\"{root}\">dbmon</a></p>\n\
         <p id=\"live\" role=\"status\" aria-live=\"polite\">static page: live updates need JavaScript</p>\n\
         </header>\n<main id=\"main\">\n{main}</main>\n\
         <script src=\"{root}assets/live.js\" defer></script>\n</body>\n</html>\n",
        title = escape(title),
    )
}

/// The symbol beside each verdict, so that a verdict is never told by colour alone.
pub fn symbol(verdict: &str) -> &'static str {
    match verdict {
        "healthy" => "✓",
        "degraded" => "▲",
        "unhealthy" => "✕",
        "unreachable" => "⚠",
        _ => "?",
    }
}

/// A verdict as a badge: symbol and word, coloured by its class.
pub fn badge(verdict: &str) -> String {
    format!(
        "<span class=\"badge\" data-f=\"verdict\">{} {}</span>",
        symbol(verdict),
        escape(verdict)
    )
}

/// When a report was collected, and how long ago (the script keeps the age current).
pub fn time(rfc3339: Option<&str>, at_ms: Option<u64>) -> String {
    match (rfc3339, at_ms) {
        (Some(text), Some(ms)) => {
            let at = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
            let age = at.elapsed().unwrap_or_default();
            format!(
                "<time datetime=\"{t}\" title=\"{t}\" data-f=\"last\">{}</time>",
                ago(age),
                t = escape(text)
            )
        }
        _ => "<time data-f=\"last\">no report yet</time>".to_string(),
    }
}

/// An age in words: `just now`, `12 s ago`, `3 min ago`, `5 h ago`, `2 d ago` (the script
/// writes the same).
pub fn ago(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0 => "just now".into(),
        1..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        7200..=172_799 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}
