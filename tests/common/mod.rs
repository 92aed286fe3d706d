//! What the integration tests share.

use std::path::PathBuf;

/// The `trainc` binary under test: `TRAINC_BIN` when set (a copy that a parallel build in a
/// shared target directory cannot overwrite mid-test), otherwise the one cargo built.
pub fn bin() -> PathBuf {
    std::env::var_os("TRAINC_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_trainc")), PathBuf::from)
}
