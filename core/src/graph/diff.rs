//! Comparing stored graph items with a rebuild: the drift `dlg audit` reports, each difference
//! named by sort key and the commit it came from.

use std::collections::BTreeMap;

use serde::Serialize;

use super::GraphItem;

/// One difference between stored graph items and a rebuild.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "drift", rename_all = "snake_case")]
pub enum Drift {
    /// The rebuild has an item the store lacks.
    Missing { key: String, commit: u64 },
    /// The store has an item the rebuild lacks.
    Extra { key: String, commit: u64 },
    /// Both have the item but it differs.
    Changed { key: String, commit: u64 },
}

/// Compares stored items with rebuilt ones by sort key. Each drift names the commit the rebuilt
/// item came from (or, for an extra item, the commit the stored item claims).
pub fn diff_items(stored: &[GraphItem], rebuilt: &[GraphItem]) -> Vec<Drift> {
    let stored: BTreeMap<String, &GraphItem> = stored.iter().map(|i| (i.sort_key(), i)).collect();
    let rebuilt: BTreeMap<String, &GraphItem> = rebuilt.iter().map(|i| (i.sort_key(), i)).collect();
    let mut drifts = Vec::new();
    for (key, item) in &rebuilt {
        match stored.get(key) {
            None => drifts.push(Drift::Missing {
                key: key.clone(),
                commit: item.origin_commit(),
            }),
            Some(found) if found != item => drifts.push(Drift::Changed {
                key: key.clone(),
                commit: item.origin_commit(),
            }),
            Some(_) => {}
        }
    }
    for (key, item) in &stored {
        if !rebuilt.contains_key(key) {
            drifts.push(Drift::Extra {
                key: key.clone(),
                commit: item.origin_commit(),
            });
        }
    }
    drifts
}
