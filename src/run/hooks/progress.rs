//! What the user sees while training: a progress bar per epoch (loss, learning rate,
//! throughput, ETA) and one line per finished epoch. Hidden with `--quiet`. Other parts of the
//! program (`watch`) print above the bar with [`print_above`]. When stderr is not a terminal
//! (a log file, a cluster job) indicatif draws no bar: one line per epoch remains.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use super::{Control, EpochEnd, Hook, StepEnd};
use crate::run::RunError;
use crate::run::live::Live;

/// The bar being drawn, for [`print_above`].
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Prints a line to stderr above the progress bar, if one is drawn (it is redrawn below).
pub fn print_above(line: &str) {
    let bar = BAR.lock().map(|b| b.clone()).unwrap_or_else(|e| e.into_inner().clone());
    match bar {
        Some(bar) => bar.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

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
        self.epochs = live.epochs();
        self.bar = if self.quiet { ProgressBar::hidden() } else { ProgressBar::new(batches as u64) };
        self.bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        self.bar.set_prefix(format!("epoch {}/{}", epoch + 1, live.epochs()));
        *BAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.bar.clone());
    }

    fn on_step_end(&mut self, s: &StepEnd) -> Result<(), RunError> {
        // `epochs` may have changed (`watch`).
        if s.live.epochs() != self.epochs {
            self.epochs = s.live.epochs();
            self.bar.set_prefix(format!("epoch {}/{}", s.epoch + 1, s.live.epochs()));
        }
        self.bar.set_message(format!("loss {:.4} lr {:.2e} {:.0} samples/s", s.mean_loss, s.lr, s.samples_per_s));
        self.bar.inc(s.batches as u64);
        Ok(())
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        self.bar.finish_and_clear();
        *BAR.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let shown: Vec<String> = end.metrics.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
        self.println(&format!(
            "epoch {}/{}: {} ({:.1}s, {:.0} samples/s)",
            end.epoch,
            end.live.epochs(),
            shown.join(", "),
            end.seconds,
            end.samples as f64 / end.seconds
        ));
        Ok(Control::Continue)
    }
}
