//! Applies one scheduled fault of the scenario to the world, turning the
//! scenario's node names into the network's node ids.

use crate::scenario::FaultAction;
use crate::service::World;

/// Applies `action` now. Names were checked when the scenario loaded; a
/// name the world does not know (impossible after `build`) is skipped.
pub(super) fn apply_fault(action: &FaultAction, w: &mut World) {
    let node = |w: &World, name: &str| w.net.node_named(name);
    let link = |w: &World, a: &str, b: &str| Some((node(w, a)?, node(w, b)?));
    match action {
        FaultAction::HostDown(n) | FaultAction::HostUp(n) => {
            let up = matches!(action, FaultAction::HostUp(_));
            if let Some(id) = node(w, n) {
                w.set_node_up(id, up);
            }
        }
        FaultAction::LinkDown(a, b) | FaultAction::LinkUp(a, b) => {
            let up = matches!(action, FaultAction::LinkUp(..));
            if let Some((na, nb)) = link(w, a, b) {
                w.set_link_up(na, nb, up);
            }
        }
        FaultAction::Partition { cut, .. } | FaultAction::Heal { cut } => {
            let up = matches!(action, FaultAction::Heal { .. });
            let ids: Vec<_> = cut.iter().filter_map(|(a, b)| link(w, a, b)).collect();
            w.set_links_up(&ids, up);
        }
        FaultAction::LossBurst { a, b, model } => {
            if let Some((na, nb)) = link(w, a, b) {
                w.set_loss_model(na, nb, Some(*model));
            }
        }
        FaultAction::LossBurstEnd(a, b) => {
            if let Some((na, nb)) = link(w, a, b) {
                w.set_loss_model(na, nb, None);
            }
        }
        FaultAction::LinkChange {
            a,
            b,
            bandwidth_bps,
            delay,
        } => {
            if let Some((na, nb)) = link(w, a, b) {
                w.set_link_params(na, nb, *bandwidth_bps, *delay);
            }
        }
    }
}
