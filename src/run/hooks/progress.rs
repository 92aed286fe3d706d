//! What the user sees while training: a progress bar per epoch (loss, learning rate,
//! throughput, ETA) and one line per finished epoch. Hidden with `--quiet`.

use indicatif::{ProgressBar, ProgressStyle};

use super::{Control, EpochEnd, Hook, StepEnd};
use crate::run::RunError;
use crate::run::live::Live;

pub struct Progress {
    pub quiet: bool,
    bar: ProgressBar,
    epochs: usize,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress { quiet, bar: ProgressBar::hidden(), epochs: 0 }
    }

    /// Prints a line above the bar (the bar is redrawn below it).
    pub fn println(&self, line: &str) {
        if !self.quiet {
            self.bar.suspend(|| eprintln!("{line}"));
        }
    }
}

impl Hook for Progress {
    fn name(&self) -> &'static str {
        "progress"
    }

    fn on_epoch_start(&mut self, epoch: usize, batches: usize, live: &Live) {
        self.epochs = live.epochs;
        self.bar = if self.quiet { ProgressBar::hidden() } else { ProgressBar::new(batches as u64) };
        self.bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        self.bar.set_prefix(format!("epoch {}/{}", epoch + 1, live.epochs));
    }

    fn on_step_end(&mut self, s: &StepEnd) -> Result<(), RunError> {
        self.bar.set_message(format!("loss {:.4} lr {:.2e} {:.0} samples/s", s.mean_loss, s.lr, s.samples_per_s));
        self.bar.inc(s.batches as u64);
        Ok(())
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        self.bar.finish_and_clear();
        let shown: Vec<String> = end.metrics.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
        self.println(&format!(
            "epoch {}/{}: {} ({:.1}s, {:.0} samples/s)",
            end.epoch,
            end.live.epochs,
            shown.join(", "),
            end.seconds,
            end.samples as f64 / end.seconds
        ));
        Ok(Control::Continue)
    }
}
