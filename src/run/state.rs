//! [`State`]: what survives a crash. Written atomically to `state.json` after the `last`
//! checkpoint at the end of every epoch; each hook owns its own entry under `hooks`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::RunError;
use super::rundir::write_atomic;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct State {
    pub epochs_done: usize,
    pub step: usize,
    /// Each hook's own state, by hook name (see `Hook::state`).
    #[serde(default)]
    pub hooks: BTreeMap<String, serde_json::Value>,
    /// The `plateau` schedule's reductions so far.
    #[serde(default)]
    pub plateau: super::plateau::Plateau,
    /// `precision = f16`'s dynamic loss scale, so that a resumed run goes on from the scale it
    /// had learnt instead of overflowing its way down from 2^16 again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scale: Option<super::LossScaler>,
}

impl State {
    pub fn write(&self, dir: &Path) -> Result<(), RunError> {
        let path = dir.join("state.json");
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        write_atomic(&path, text.as_bytes()).map_err(RunError::write(path))
    }
}

/// Reads `state.json` of a run directory, to resume it.
pub fn read_state(dir: &Path) -> Result<State, RunError> {
    let resume = |reason: String| RunError::Resume { dir: dir.to_path_buf(), reason };
    let text = std::fs::read_to_string(dir.join("state.json"))
        .map_err(|e| resume(format!("it has no readable `state.json` ({e}); did an epoch finish?")))?;
    serde_json::from_str(&text).map_err(|e| resume(format!("`state.json` is corrupt: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_scale_survives_state_json() {
        let mut scaler = crate::run::LossScaler::default();
        scaler.update(false);
        let state = State { step: 7, loss_scale: Some(scaler.clone()), ..State::default() };
        let text = serde_json::to_string(&state).expect("serialises");
        let back: State = serde_json::from_str(&text).expect("parses");
        assert_eq!(back.loss_scale, Some(scaler));
        // A state.json written before the field existed (or by an f32 run) has none.
        let old: State = serde_json::from_str(r#"{"epochs_done": 1, "step": 3}"#).expect("parses");
        assert_eq!(old.loss_scale, None);
    }
}
