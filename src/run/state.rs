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
