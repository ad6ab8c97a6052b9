//! The state of `dbmon top` and how reports, connection news and keys change it. Plain data:
//! no terminal, no network.

use super::{cluster::ClusterState, verdict::Verdict};
use dbmon_proto as proto;
use std::{collections::BTreeMap, time::SystemTime};

/// Which screen is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// Every cluster, worst first.
    List,
    /// One cluster's nodes, metrics and reasons.
    Detail(String),
}

/// How the stream from the server stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Reports are flowing.
    Live,
    /// The stream broke; reconnect attempt `attempt` is pending or running.
    Disconnected {
        /// Attempts since the stream broke, from 1.
        attempt: u32,
        /// Why the stream or the last attempt failed.
        error: String,
    },
}

/// Everything the view draws.
#[derive(Debug, Clone)]
pub struct Model {
    /// The server's URL, as given.
    pub server: String,
    /// Every known cluster by id.
    pub clusters: BTreeMap<String, ClusterState>,
    /// The selected cluster's id, kept by id so that re-sorting does not move the cursor.
    pub selected: Option<String>,
    /// The current screen.
    pub view: View,
    /// Only clusters whose id contains this are listed.
    pub filter: String,
    /// The filter is being typed.
    pub editing_filter: bool,
    /// Lines scrolled down in the detail view.
    pub detail_scroll: u16,
    /// The stream's state.
    pub link: Link,
    /// The instant ages are measured at (set by the event loop's tick).
    pub now: SystemTime,
}

impl Model {
    /// An empty model of `server` at `now`.
    pub fn new(server: &str, now: SystemTime) -> Model {
        Model {
            server: server.to_string(),
            clusters: BTreeMap::new(),
            selected: None,
            view: View::List,
            filter: String::new(),
            editing_filter: false,
            detail_scroll: 0,
            link: Link::Live,
            now,
        }
    }

    /// Takes a snapshot: the server's listing and stored reports (in any order). Clusters the
    /// listing no longer has are dropped; the stream is live again.
    pub fn load(&mut self, clusters: &[proto::Cluster], mut reports: Vec<proto::Report>) {
        self.clusters
            .retain(|id, _| clusters.iter().any(|c| &c.id == id));
        reports.sort_by_key(|r| r.collected_at.map(|t| (t.seconds, t.nanos)));
        for report in reports {
            self.cluster(&report.cluster_id).record(report);
        }
        for cluster in clusters {
            self.cluster(&cluster.id).list(cluster);
        }
        self.link = Link::Live;
        self.keep_selection_visible();
    }

    /// Takes one report (older ones than a cluster's latest are ignored).
    pub fn record(&mut self, report: proto::Report) {
        self.cluster(&report.cluster_id).record(report);
        self.keep_selection_visible();
    }

    /// The stream broke, or reconnect attempt `attempt - 1` failed, with `error`.
    pub fn disconnected(&mut self, attempt: u32, error: String) {
        self.link = Link::Disconnected { attempt, error };
    }

    /// The clusters to list: filtered by id, worst verdict first, then by id.
    pub fn rows(&self) -> Vec<&ClusterState> {
        let mut rows: Vec<&ClusterState> = self
            .clusters
            .values()
            .filter(|c| c.id.contains(self.filter.as_str()))
            .collect();
        rows.sort_by(|a, b| a.verdict.cmp(&b.verdict).then_with(|| a.id.cmp(&b.id)));
        rows
    }

    /// The selected row's index in `rows()`, if it is listed.
    pub fn selected_index(&self) -> Option<usize> {
        let selected = self.selected.as_deref()?;
        self.rows().iter().position(|c| c.id == selected)
    }

    /// How many clusters have each verdict, worst first, leaving out those with none.
    pub fn counts(&self) -> Vec<(Verdict, usize)> {
        let mut counts: BTreeMap<Verdict, usize> = BTreeMap::new();
        for c in self.clusters.values() {
            *counts.entry(c.verdict).or_default() += 1;
        }
        counts.into_iter().collect()
    }

    /// Whether any cluster is collected by a collector (the list then shows the column).
    pub fn any_remote(&self) -> bool {
        self.clusters.values().any(|c| !c.collector.is_empty())
    }

    /// The newest report time per cluster, to resume from after a reconnect.
    pub fn resume_points(&self) -> BTreeMap<String, prost_types::Timestamp> {
        self.clusters
            .values()
            .filter_map(|c| Some((c.id.clone(), c.latest.as_ref()?.collected_at?)))
            .collect()
    }

    /// Moves the selection `by` rows (negative: up), within the list.
    pub fn move_selection(&mut self, by: isize) {
        let rows = self.rows();
        if rows.is_empty() {
            return;
        }
        let at = self
            .selected_index()
            .map_or(0, |i| i.saturating_add_signed(by).min(rows.len() - 1));
        self.selected = Some(rows[at].id.clone());
    }

    /// Selects the first (`first`) or last listed row.
    pub fn select_end(&mut self, first: bool) {
        let rows = self.rows();
        let row = if first { rows.first() } else { rows.last() };
        self.selected = row.map(|c| c.id.clone());
    }

    /// Opens the selected cluster's detail.
    pub fn open_detail(&mut self) {
        if let Some(id) = self.selected_index().map(|i| self.rows()[i].id.clone()) {
            self.view = View::Detail(id);
            self.detail_scroll = 0;
        }
    }

    /// Back to the list.
    pub fn close_detail(&mut self) {
        self.view = View::List;
    }

    /// Replaces the filter (as typed) and keeps a listed row selected.
    pub fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.keep_selection_visible();
    }

    /// Cluster `id`, added when new.
    fn cluster(&mut self, id: &str) -> &mut ClusterState {
        self.clusters
            .entry(id.to_string())
            .or_insert_with(|| ClusterState::new(id))
    }

    /// Selects the first row when nothing listed is selected.
    fn keep_selection_visible(&mut self) {
        if self.selected_index().is_none() {
            self.select_end(true);
        }
    }
}
