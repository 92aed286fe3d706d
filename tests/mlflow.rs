//! `logger = mlflow(…)` against a real `mlflow server` (pip), found through MLflow's own Python
//! client: params, per-epoch metrics, artifacts and the run's status. Without mlflow the test
//! prints SKIP, except under CI (`CI` set), where it fails. A server that is not there stops the
//! run before its first step with a coded error.
#![cfg(feature = "train")]
#![allow(clippy::disallowed_methods)]

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::text;

/// The venv `.ci/run` installs mlflow into (`TRAINC_MLFLOW_VENV` overrides it).
fn venv() -> PathBuf {
    std::env::var_os("TRAINC_MLFLOW_VENV").map_or_else(
        || PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/trainc-mlflow-venv"),
        PathBuf::from,
    )
}

/// A server killed when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Starts `mlflow server` on `port` with its stores in `dir`; waits for `/health`.
fn start_server(dir: &Path, port: u16) -> Server {
    let log = std::fs::File::create(dir.join("server.log")).expect("log file");
    let child = Command::new(venv().join("bin/mlflow"))
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
        .arg("--artifacts-destination")
        .arg(dir.join("artifacts"))
        .current_dir(dir)
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("mlflow server starts");
    let server = Server(child);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if health(port) {
            return server;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!(
        "mlflow server did not answer in 120 s: {}",
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
}

fn health(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

fn project(name: &str) -> common::Scratch {
    common::tiny_project(&format!("mlflow-{name}"), "8", "log_every = 1")
}

fn trainc(dir: &Path, args: &[&str]) -> Output {
    common::trainc_cached(dir, args)
}

#[test]
fn metrics_params_and_artifacts_reach_a_real_mlflow_server() {
    let python = venv().join("bin/python");
    let probe = Command::new(&python).args(["-c", "import mlflow"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(std::env::var_os("CI").is_none(), "CI must provide mlflow at {}", python.display());
        eprintln!("SKIP: no mlflow at {}; run `python3 -m venv {0} && {0}/bin/pip install mlflow`", venv().display());
        return;
    }
    let dir = project("server");
    let port = free_port();
    let _server = start_server(&dir, port);
    let uri = format!("http://127.0.0.1:{port}");
    let logger = format!("logger=mlflow(\"{uri}\", experiment = \"trainc-test\")");
    let out = trainc(&dir, &["run", "t.train", "--quiet", &logger]);
    assert!(out.status.success(), "{}", text(&out));
    let script = r#"
import sys, mlflow
c = mlflow.MlflowClient(sys.argv[1])
e = c.get_experiment_by_name("trainc-test")
[r] = c.search_runs([e.experiment_id])
assert r.info.status == "FINISHED", r.info.status
assert r.data.params["optimizer.lr"] == "0.003", r.data.params
steps = [m.step for m in c.get_metric_history(r.info.run_id, "val.accuracy")]
assert steps == [1, 2], steps
for key in ["train.loss", "val.loss", "lr", "train.step_loss"]:
    assert key in r.data.metrics, (key, r.data.metrics)
files = [a.path for a in c.list_artifacts(r.info.run_id)] + [a.path for a in c.list_artifacts(r.info.run_id, "plots")]
for f in ["summary.json", "spec.json", "data_manifest.json", "plots/results.png", "plots/val_predictions.png"]:
    assert f in files, (f, files)
print("ok", r.data.metrics["val.accuracy"])
"#;
    let read = Command::new(&python).args(["-c", script, &uri]).output().expect("python runs");
    assert!(read.status.success(), "{}", text(&read));
    assert!(String::from_utf8_lossy(&read.stdout).starts_with("ok"), "{}", text(&read));
}

#[test]
fn an_unreachable_server_stops_the_run_before_training() {
    let dir = project("down");
    let logger = format!("logger=mlflow(\"http://127.0.0.1:{}\")", free_port());
    let out = trainc(&dir, &["run", "t.train", "--quiet", &logger]);
    assert!(!out.status.success());
    let shown = text(&out);
    assert!(shown.contains("trainc::run::tracking") && shown.contains("cannot connect"), "{shown}");
    // No epoch ran.
    let runs = dir.join("runs/tiny");
    let run = std::fs::read_dir(&runs).expect("runs").flatten().next().expect("a run directory").path();
    assert!(!run.join("state.json").exists() && !run.join("metrics.csv").exists());
}
