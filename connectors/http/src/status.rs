//! `node_status`: a node's status from a value of its answer.

use crate::extract::{same, text};
use crate::selector::Selector;
use dbmon_connector_api::NodeStatus;
use serde_json::Value;

/// A checked `node_status` rule.
#[derive(Debug)]
pub struct StatusRule {
    /// Where the value is.
    pub selector: Selector,
    /// Each status with the values that mean it, in the order they are tried.
    pub statuses: Vec<(NodeStatus, Vec<Value>)>,
}

impl StatusRule {
    /// The status `document` says; `Err` says why it says none.
    pub fn status(&self, document: &Value) -> Result<NodeStatus, String> {
        let value = match self.selector.select(document).as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(format!(
                    "node_status path {} selects nothing",
                    self.selector
                ));
            }
            more => {
                return Err(format!(
                    "node_status path {} selects {} values where one is needed",
                    self.selector,
                    more.len()
                ));
            }
        };
        self.statuses
            .iter()
            .find(|(_, values)| values.iter().any(|v| same(v, &value)))
            .map(|(status, _)| *status)
            .ok_or_else(|| {
                let shown: String = text(&value).chars().take(40).collect();
                format!(
                    "{} is '{shown}', which none of node_status's lists holds",
                    self.selector
                )
            })
    }

    /// The value the rule read, for a reason's text.
    pub fn shown(&self, document: &Value) -> String {
        match self.selector.select(document).as_slice() {
            [one] => text(one).chars().take(40).collect(),
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_list_holding_the_value_gives_the_status() {
        let rule = StatusRule {
            selector: Selector::parse("$.state").unwrap(),
            statuses: vec![
                (NodeStatus::Live, vec![json!("up"), json!("ok")]),
                (NodeStatus::Draining, vec![json!("draining")]),
                (NodeStatus::Dead, vec![json!(true)]),
            ],
        };
        assert_eq!(rule.status(&json!({"state": "ok"})), Ok(NodeStatus::Live));
        assert_eq!(
            rule.status(&json!({"state": "draining"})),
            Ok(NodeStatus::Draining)
        );
        assert_eq!(rule.status(&json!({"state": true})), Ok(NodeStatus::Dead));
        let e = rule.status(&json!({"state": "weird"})).unwrap_err();
        assert_eq!(
            e,
            "$.state is 'weird', which none of node_status's lists holds"
        );
        assert!(
            rule.status(&json!({}))
                .unwrap_err()
                .contains("selects nothing")
        );
    }
}
