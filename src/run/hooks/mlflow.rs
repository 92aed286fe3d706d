//! `logger = mlflow("http://host:port", experiment = "…")`: the run as an MLflow run. At the
//! start: the experiment (created when missing), a run named after the run directory, and the
//! resolved `train` block as params (`optimizer.lr`, `data.batch`, …). After every epoch: the
//! epoch's metrics (`train.loss`, `val.accuracy`, …, step = the epoch), `lr`, `epoch_seconds`,
//! and the loss of every `log_every`-th step (`train.step_loss`, step = the optimizer step). At
//! the end: the test metrics, the run directory's files (`summary.json`, `spec.json`,
//! `data_manifest.json`, `metrics.csv`, plots, …) as artifacts, and status `FINISHED`; a run
//! that stops on an error is marked `FAILED`.
//!
//! A server that cannot be reached at the start stops the run before its first step, with a
//! coded error, like a bad data path would; one that goes away later costs a warning, not the
//! training (everything is in the run directory too). A resumed run logs to the same MLflow run
//! (its id is kept in `state.json`).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{Control, EpochEnd, Hook, StepEnd, TrainEnd, load_state, save_state};
use crate::run::mlflow::{Client, proxied_root};
use crate::run::{RunError, State};

/// MLflow's limits per `log-batch` call, and on a param's value (500 before MLflow 2.3).
const METRICS_PER_CALL: usize = 1000;
const PARAMS_PER_CALL: usize = 100;
const PARAM_CHARS: usize = 500;

/// What a resumed run needs to go on logging to the same MLflow run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Tracked {
    run_id: String,
    /// The artifact proxy's path of the run; `None` when the server does not proxy artifacts.
    artifacts: Option<String>,
}

pub struct Mlflow {
    client: Client,
    experiment: String,
    run_dir: PathBuf,
    params: Vec<(String, String)>,
    tracked: Tracked,
    /// Step losses waiting for the epoch's batch.
    pending: Vec<Value>,
    /// The last epoch logged: the step of the test metrics.
    epoch: usize,
    finished: bool,
    warned: bool,
    quiet: bool,
}

impl Mlflow {
    /// A logger for the run in `run_dir` of the resolved `train` block `spec` (as JSON).
    pub fn new(uri: &str, experiment: &str, run_dir: &Path, spec: &Value, quiet: bool) -> Result<Mlflow, RunError> {
        let client = Client::new(uri).map_err(|message| RunError::Tracking { uri: uri.into(), message })?;
        let experiment = if experiment.is_empty() { spec["name"].as_str().unwrap_or("trainc") } else { experiment };
        let mut params = Vec::new();
        flatten("", spec, &mut params);
        Ok(Mlflow {
            client,
            experiment: experiment.to_string(),
            run_dir: run_dir.to_path_buf(),
            params,
            tracked: Tracked::default(),
            pending: Vec::new(),
            epoch: 0,
            finished: false,
            warned: false,
            quiet,
        })
    }

    fn fail(&self, message: String) -> RunError {
        RunError::Tracking { uri: self.client.uri.clone(), message }
    }

    /// Creates the MLflow run and logs the params.
    fn create(&mut self) -> Result<(), String> {
        let experiment_id = self.client.experiment(&self.experiment)?;
        let name = self.run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let body = json!({
            "experiment_id": experiment_id,
            "run_name": name,
            "start_time": now_ms(),
            "tags": [
                {"key": "mlflow.source.name", "value": "trainc"},
                {"key": "trainc.run_dir", "value": self.run_dir.display().to_string()},
            ],
        });
        let info = self.client.call("POST", "runs/create", &body)?["run"]["info"].clone();
        let run_id = info["run_id"].as_str().ok_or_else(|| format!("no run id in {info}"))?;
        let artifacts = proxied_root(info["artifact_uri"].as_str().unwrap_or_default());
        if artifacts.is_none() && !self.quiet {
            eprintln!(
                "mlflow: the server stores artifacts at `{}`, which only its own clients can write; trainc logs params and metrics only (start it with `--serve-artifacts`)",
                info["artifact_uri"].as_str().unwrap_or("?")
            );
        }
        self.tracked = Tracked { run_id: run_id.to_string(), artifacts };
        for chunk in self.params.chunks(PARAMS_PER_CALL) {
            let params: Vec<Value> = chunk.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
            self.log_batch(json!({ "params": params }))?;
        }
        if !self.quiet {
            eprintln!("mlflow: run {} in experiment `{}` at {}", self.tracked.run_id, self.experiment, self.client.uri);
        }
        Ok(())
    }

    fn log_batch(&self, mut body: Value) -> Result<(), String> {
        body["run_id"] = json!(self.tracked.run_id);
        self.client.call("POST", "runs/log-batch", &body).map(|_| ())
    }

    fn log_metrics(&self, metrics: &[Value]) -> Result<(), String> {
        metrics.chunks(METRICS_PER_CALL).try_for_each(|chunk| self.log_batch(json!({ "metrics": chunk })))
    }

    fn set_status(&self, status: &str) -> Result<(), String> {
        let body = json!({"run_id": self.tracked.run_id, "status": status, "end_time": now_ms()});
        self.client.call("POST", "runs/update", &body).map(|_| ())
    }

    /// A failure after the start: a warning (once), training goes on.
    fn warn(&mut self, result: Result<(), String>) {
        if let Err(e) = result
            && !self.warned
        {
            eprintln!(
                "warning: mlflow at {}: {e}; training goes on (the run directory has every value)",
                self.client.uri
            );
            self.warned = true;
        }
    }

    /// The run directory's result files and plots, as artifacts.
    fn upload(&self) -> Result<(), String> {
        let Some(root) = &self.tracked.artifacts else { return Ok(()) };
        let files = [
            "summary.json",
            "spec.json",
            "run.json",
            "timing.json",
            "data_manifest.json",
            "metrics.csv",
            "confusion_matrix.csv",
        ];
        let mut names: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        let plots = std::fs::read_dir(self.run_dir.join("plots")).into_iter().flatten().flatten();
        names.extend(plots.map(|e| format!("plots/{}", e.file_name().to_string_lossy())));
        for name in names {
            if let Ok(bytes) = std::fs::read(self.run_dir.join(&name)) {
                self.client.put_artifact(root, &name, &bytes)?;
            }
        }
        Ok(())
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn metric(key: &str, value: f64, step: usize) -> Option<Value> {
    value.is_finite().then(|| json!({"key": key, "value": value, "timestamp": now_ms(), "step": step}))
}

/// The resolved spec as `dotted.key = value` params: records flattened, lists of plain values
/// and builtin calls written as one value, long values cut.
pub fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    match v {
        Value::Object(map) => map.iter().for_each(|(k, v)| flatten(&key(k), v, out)),
        Value::Array(items) if items.iter().any(Value::is_object) && items.len() <= 8 => {
            items.iter().enumerate().for_each(|(i, v)| flatten(&key(&i.to_string()), v, out));
        }
        Value::Null => {}
        other => {
            let mut text = crate::watch::diff::show(other);
            if text.chars().count() > PARAM_CHARS {
                text = text.chars().take(PARAM_CHARS - 1).chain(std::iter::once('…')).collect();
            }
            out.push((prefix.to_string(), text));
        }
    }
}

impl Hook for Mlflow {
    fn name(&self) -> &'static str {
        "mlflow"
    }

    fn on_train_start(&mut self, _state: &State) -> Result<(), RunError> {
        if self.tracked.run_id.is_empty() {
            return self.create().map_err(|e| self.fail(e));
        }
        // A resumed run: the same MLflow run, running again.
        let body = json!({"run_id": self.tracked.run_id, "status": "RUNNING"});
        self.client.call("POST", "runs/update", &body).map(|_| ()).map_err(|e| self.fail(e))
    }

    fn on_step_end(&mut self, s: &StepEnd) -> Result<(), RunError> {
        if s.step.is_multiple_of(s.live.log_every()) {
            self.pending.extend(metric("train.step_loss", s.loss as f64, s.step));
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        self.epoch = end.epoch;
        let mut metrics: Vec<Value> = std::mem::take(&mut self.pending);
        metrics.extend(end.metrics.iter().filter_map(|(k, v)| metric(k, *v, end.epoch)));
        metrics.extend(metric("lr", end.lr, end.epoch));
        metrics.extend(metric("epoch_seconds", end.seconds, end.epoch));
        let sent = self.log_metrics(&metrics);
        self.warn(sent);
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, end: &TrainEnd) -> Result<(), RunError> {
        let epochs = self.epoch;
        let tests: Vec<Value> = end
            .results
            .get("test")
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| metric(&format!("test.{k}"), *v, epochs))
            .collect();
        let sent = self.log_metrics(&tests).and_then(|()| self.upload()).and_then(|()| self.set_status("FINISHED"));
        self.finished = true;
        self.warn(sent);
        Ok(())
    }

    fn state(&self) -> Option<Value> {
        save_state(&self.tracked)
    }

    fn restore(&mut self, state: &Value) -> Result<(), RunError> {
        self.tracked = load_state(state);
        Ok(())
    }
}

/// A run that ends without `on_train_end` (an error) is marked failed, best effort.
impl Drop for Mlflow {
    fn drop(&mut self) {
        if !self.finished && !self.tracked.run_id.is_empty() {
            let _ = self.set_status("FAILED");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_become_dotted_params() {
        let spec = json!({
            "optimizer": {"name": "adam", "lr": 0.003},
            "data": {"batch": 8, "augment": [{"name": "hflip", "p": 0.5}]},
            "metrics": ["accuracy", "f1"],
            "ema": null,
        });
        let mut out = Vec::new();
        flatten("", &spec, &mut out);
        let get = |k: &str| out.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("optimizer.lr"), Some("0.003"));
        assert_eq!(get("data.augment.0.p"), Some("0.5"));
        assert_eq!(get("metrics"), Some("[accuracy, f1]"));
        assert_eq!(get("ema"), None);
    }
}
