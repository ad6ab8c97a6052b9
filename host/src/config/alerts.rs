//! `alerts:` resolved: the targets with their URLs checked, `for` and `resend`.

use super::{Config, ConfigError, model};
use std::time::Duration;

/// Where an alert is posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertTarget {
    /// An Alertmanager: the URL of its `/api/v2/alerts`.
    Alertmanager(String),
    /// A webhook: the URL itself.
    Webhook(String),
}

impl AlertTarget {
    /// The URL posted to.
    pub fn url(&self) -> &str {
        match self {
            AlertTarget::Alertmanager(url) | AlertTarget::Webhook(url) => url,
        }
    }
}

/// `alerts:`, valid.
#[derive(Debug, Clone)]
pub struct Alerts {
    /// Every target, Alertmanagers first, in file order.
    pub targets: Vec<AlertTarget>,
    /// Reports in a row with a new verdict before its alert fires or resolves.
    pub for_reports: usize,
    /// How often a firing alert is sent again.
    pub resend: Duration,
    /// The status page's URL without a trailing `/`, for `generatorURL`.
    pub external_url: Option<String>,
}

/// Resent more often than this, firing alerts would flood their targets.
const MIN_RESEND: Duration = Duration::from_secs(1);

impl Config {
    /// Resolves `alerts:` into `self.alerts`; with an error it stays unset.
    pub(super) fn add_alerts(&mut self, raw: &model::FileConfig, errors: &mut Vec<ConfigError>) {
        let Some(a) = &raw.alerts else { return };
        let before = errors.len();
        let mut targets = Vec::new();
        for (i, url) in a.alertmanager.iter().enumerate() {
            match http_url(url) {
                Some(base) => {
                    let url = if base.ends_with("/api/v2/alerts") {
                        base
                    } else {
                        format!("{base}/api/v2/alerts")
                    };
                    targets.push(AlertTarget::Alertmanager(url));
                }
                None => errors.push(self.error_at(
                    &format!("alerts.alertmanager[{i}]"),
                    format!("'{url}' is not an Alertmanager URL like http://alertmanager:9093"),
                )),
            }
        }
        for (i, url) in a.webhook.iter().enumerate() {
            match http_url(url) {
                Some(_) => targets.push(AlertTarget::Webhook(url.trim().to_string())),
                None => errors.push(self.error_at(
                    &format!("alerts.webhook[{i}]"),
                    format!("'{url}' is not a webhook URL like https://hooks.example/dbmon"),
                )),
            }
        }
        if a.alertmanager.is_empty() && a.webhook.is_empty() {
            let message = "alerts: name where they go: alertmanager: [http://alertmanager:9093] \
                           and/or webhook: [URL]";
            errors.push(self.error_at("alerts", message));
        }
        let resend = a.resend.map_or(model::DEFAULT_ALERT_RESEND, |p| p.0);
        if resend < MIN_RESEND {
            let message = format!(
                "resend {} is too often: at least 1s",
                humantime::format_duration(resend)
            );
            errors.push(self.error_at("alerts.resend", message));
        }
        let external_url = match &a.external_url {
            Some(url) => match http_url(url) {
                Some(base) => Some(base),
                None => {
                    let message = format!(
                        "'{url}' is not the status page's URL like https://dbmon.example:9464"
                    );
                    errors.push(self.error_at("alerts.external_url", message));
                    None
                }
            },
            None => None,
        };
        if errors.len() == before {
            self.alerts = Some(Alerts {
                targets,
                for_reports: a.for_reports,
                resend,
                external_url,
            });
        }
    }
}

/// `url` without a trailing `/`, when it is an `http://` or `https://` URL with a host.
fn http_url(url: &str) -> Option<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    (!host.is_empty() && !host.contains(char::is_whitespace)).then(|| trimmed.to_string())
}
