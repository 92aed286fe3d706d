//! Checking a sweep before trial 1: every value of every dimension is applied to the program as
//! an override (`path=value`, after the profile and the fixed overrides) and the program is
//! checked — types, ranges, data and shapes — like `trainc check FILE path=value`. A value that
//! fails is reported at the value itself, in the sweep block or on the command line.

use std::path::Path;

use super::{Space, SweepError};
use crate::frontend::{self, Options};
use crate::host::Host;
use crate::ir::{Metric, TrainSpec};

/// The errors of every value that does not check; empty when the whole space checks.
/// A range is checked at both ends; a choice at every value.
pub fn check_values(host: &dyn Host, file: &Path, base: &Options, space: &Space) -> Vec<SweepError> {
    let mut errors = Vec::new();
    for dim in &space.dims {
        for value in dim.domain.probes() {
            let mut options = base.clone();
            options.resolve.overrides.extend(space.fixed.iter().cloned());
            options.resolve.overrides.push(format!("{}={}", dim.path, value.text));
            let outcome = frontend::check_file(host, file, &options);
            let Some(first) = outcome.diags.iter().find(|d| d.is_error()) else { continue };
            let source = &space.sources[value.source];
            errors.push(SweepError::InvalidValue {
                path: dim.path.clone(),
                value: value.text.clone(),
                reason: format!("{} ({})", first.error, first.code()),
                src: source.named(),
                at: value.span(),
            });
        }
    }
    errors
}

/// The metric names a run reports for `split` (its `summary.json` and `metrics.csv` columns).
pub fn objectives(spec: &TrainSpec) -> Vec<String> {
    let splits = ["val", "test"].into_iter().filter(|s| spec.data.dataset.splits.contains_key(*s));
    splits
        .flat_map(|s| {
            std::iter::once(format!("{s}.loss")).chain(
                spec.metrics
                    .iter()
                    .filter(|m| **m != Metric::ConfusionMatrix)
                    .map(move |m| format!("{s}.{}", m.name())),
            )
        })
        .collect()
}
