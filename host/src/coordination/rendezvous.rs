//! Who owns a cluster: weighted rendezvous (highest-random-weight) hashing, and the diff of
//! two owned sets. Pure functions, the same in every collector.
//!
//! score(c, m) = -weight(m) / ln(u), with u = hash(c, m) mapped into (0, 1): the member with
//! the highest score owns the cluster. A member that joins takes from each other member the
//! clusters where it scores highest, ~1/N of them, and no cluster moves between the others; a
//! member that leaves gives only its own clusters away. A member of weight w gets a share
//! w / Σw (the -w/ln(u) form makes the shares proportional, unlike w·u).

use sha2::{Digest, Sha256};
use std::{collections::BTreeSet, sync::Arc};

/// One live member as the hashing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: Arc<str>,
    pub weight: u32,
}

/// u = hash(cluster, member) in (0, 1): SHA-256 of both (a NUL between), its first 53 bits.
fn unit(cluster: &str, member: &str) -> f64 {
    let mut hasher = Sha256::new();
    hasher.update(cluster.as_bytes());
    hasher.update([0]);
    hasher.update(member.as_bytes());
    let digest = hasher.finalize();
    let bits = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) >> 11;
    // (bits + 0.5) / 2^53: never 0, never 1.
    (bits as f64 + 0.5) / (1u64 << 53) as f64
}

/// The score of `member` (of `weight`) for `cluster`: higher wins.
pub fn score(cluster: &str, member: &str, weight: u32) -> f64 {
    -f64::from(weight.max(1)) / unit(cluster, member).ln()
}

/// The owner of `cluster` among `members`: its pin when pinned (nobody when the pinned
/// member is not among them), else the highest score (ties go to the smaller id).
pub fn owner<'a>(cluster: &str, pinned: Option<&str>, members: &'a [Member]) -> Option<&'a Member> {
    if let Some(pin) = pinned {
        return members.iter().find(|m| &*m.id == pin);
    }
    let mut best: Option<(&Member, f64)> = None;
    for m in members {
        let s = score(cluster, &m.id, m.weight);
        match best {
            Some((b, bs)) if bs > s || (bs == s && b.id < m.id) => {}
            _ => best = Some((m, s)),
        }
    }
    best.map(|(m, _)| m)
}

/// The clusters of `candidates` that `me` owns among `members`.
pub fn assigned(
    me: &str,
    candidates: &[(Arc<str>, Option<Arc<str>>)],
    members: &[Member],
) -> BTreeSet<Arc<str>> {
    candidates
        .iter()
        .filter(|(id, pin)| owner(id, pin.as_deref(), members).is_some_and(|m| &*m.id == me))
        .map(|(id, _)| id.clone())
        .collect()
}

/// What changes from `before` to `after`: the clusters to start and those to stop.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diff {
    pub started: Vec<Arc<str>>,
    pub stopped: Vec<Arc<str>>,
}

impl Diff {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.started.is_empty() && self.stopped.is_empty()
    }
}

/// The diff of two owned sets.
pub fn diff(before: &BTreeSet<Arc<str>>, after: &BTreeSet<Arc<str>>) -> Diff {
    Diff {
        started: after.difference(before).cloned().collect(),
        stopped: before.difference(after).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn members(spec: &[(&str, u32)]) -> Vec<Member> {
        spec.iter()
            .map(|(id, w)| Member {
                id: (*id).into(),
                weight: *w,
            })
            .collect()
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("cluster-{i}")).collect()
    }

    fn owners(clusters: &[String], members: &[Member]) -> HashMap<String, Arc<str>> {
        clusters
            .iter()
            .map(|c| (c.clone(), owner(c, None, members).unwrap().id.clone()))
            .collect()
    }

    #[test]
    fn coordination_rendezvous_joining_member_takes_about_one_nth_and_only_for_itself() {
        let clusters = ids(10_000);
        let three = members(&[("a", 1), ("b", 1), ("c", 1)]);
        let four = members(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)]);
        let before = owners(&clusters, &three);
        let after = owners(&clusters, &four);
        let moved: Vec<&String> = clusters
            .iter()
            .filter(|c| before[*c] != after[*c])
            .collect();
        // Every move goes to the new member; about a quarter move.
        assert!(moved.iter().all(|c| &*after[*c] == "d"));
        let share = moved.len() as f64 / clusters.len() as f64;
        assert!((share - 0.25).abs() < 0.25 * 0.2, "moved {share}");
    }

    #[test]
    fn coordination_rendezvous_leaving_member_gives_away_only_its_own() {
        let clusters = ids(10_000);
        let four = members(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)]);
        let three = members(&[("a", 1), ("c", 1), ("d", 1)]);
        let before = owners(&clusters, &four);
        let after = owners(&clusters, &three);
        for c in &clusters {
            if &*before[c] != "b" {
                assert_eq!(before[c], after[c], "{c} moved between members that stayed");
            }
        }
        let moved = clusters.iter().filter(|c| before[*c] != after[*c]).count();
        let share = moved as f64 / clusters.len() as f64;
        assert!((share - 0.25).abs() < 0.25 * 0.2, "moved {share}");
    }

    #[test]
    fn coordination_rendezvous_weights_set_the_shares_within_20_percent() {
        let clusters = ids(10_000);
        let spec = [("a", 1), ("b", 2), ("c", 3), ("d", 4)];
        let all = members(&spec);
        let owned = owners(&clusters, &all);
        let total: u32 = spec.iter().map(|(_, w)| w).sum();
        for (id, w) in spec {
            let expected = clusters.len() as f64 * f64::from(w) / f64::from(total);
            let got = owned.values().filter(|o| &***o == id).count() as f64;
            assert!(
                (got - expected).abs() <= expected * 0.2,
                "{id} (weight {w}) got {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn coordination_rendezvous_equal_weights_share_evenly() {
        let clusters = ids(10_000);
        let all = members(&[("x-1", 1), ("x-2", 1), ("x-3", 1)]);
        let owned = owners(&clusters, &all);
        for m in &all {
            let got = owned.values().filter(|o| **o == m.id).count() as f64;
            assert!((got - 3333.3).abs() < 3333.3 * 0.2, "{} got {got}", m.id);
        }
    }

    #[test]
    fn coordination_rendezvous_pins_go_to_their_member_or_nobody() {
        let all = members(&[("a", 1), ("b", 1)]);
        assert_eq!(&*owner("c1", Some("b"), &all).unwrap().id, "b");
        assert_eq!(&*owner("c1", Some("a"), &all).unwrap().id, "a");
        assert!(owner("c1", Some("gone"), &all).is_none());
        assert!(owner("c1", None, &[]).is_none());
        let candidates: Vec<(Arc<str>, Option<Arc<str>>)> = vec![
            ("p".into(), Some("a".into())),
            ("q".into(), Some("zz".into())),
        ];
        assert_eq!(
            assigned("a", &candidates, &all),
            BTreeSet::from(["p".into()])
        );
        assert!(assigned("b", &candidates, &all).is_empty());
    }

    #[test]
    fn coordination_rendezvous_is_the_same_everywhere() {
        // The score depends on nothing but its inputs (a collector on another machine agrees).
        assert_eq!(score("c", "m", 1), score("c", "m", 1));
        assert!(score("c", "m", 2) > score("c", "m", 1));
        let u = unit("some-cluster", "some-member");
        assert!(u > 0.0 && u < 1.0);
    }

    #[test]
    fn coordination_diff_names_what_starts_and_stops() {
        let before: BTreeSet<Arc<str>> = ["a".into(), "b".into()].into();
        let after: BTreeSet<Arc<str>> = ["b".into(), "c".into()].into();
        let d = diff(&before, &after);
        assert_eq!(d.started, vec![Arc::<str>::from("c")]);
        assert_eq!(d.stopped, vec![Arc::<str>::from("a")]);
        assert!(diff(&after, &after).is_empty());
    }
}
