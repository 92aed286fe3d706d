//! Data-parallel training on CPU through MPI, launched as the README says (`mpirun -np 2`): the
//! ranks' weights agree after every step, the run matches one process with the same global
//! batch, a distributed run resumes, and a dead or stalled rank ends the job with an error
//! within the timeout. Those need `--features mpi` and Open MPI's `mpirun`; without `mpirun` they
//! print SKIP, except under CI (`CI` set), where they fail. Launchers that cannot work are refused
//! in every build.
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `trainc run` of a tiny project under the launcher environment `env`; its output.
fn run_under(name: &str, env: &[(&str, &str)]) -> String {
    command_under(name, env, &["run", "t.train"])
}

/// `trainc ARGS` (refused) in a tiny project under the launcher environment `env`; its output.
fn command_under(name: &str, env: &[(&str, &str)], args: &[&str]) -> String {
    let dir = common::tiny_project(name, "2", "");
    let out = Command::new(common::bin()).current_dir(&*dir).envs(env.iter().copied()).args(args).output();
    let out = out.expect("trainc runs");
    assert!(!out.status.success(), "{}", common::text(&out));
    assert!(!dir.join("runs").exists(), "a refused run must not create a run directory");
    common::text(&out)
}

/// A torchrun-style launch trains over NCCL: on CPUs it is refused, naming the MPI launchers.
#[test]
fn a_torchrun_environment_on_cpus_is_refused_naming_nccl_mpirun_and_srun() {
    let env = [("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29500")];
    let t = run_under("dist-torchrun", &env);
    assert!(t.contains("trainc::dist::torchrun") && t.contains("--features nccl"), "{t}");
    assert!(t.contains("mpirun -np 2") && t.contains("srun -n 2"), "{t}");
}

#[test]
fn srun_without_pmix_is_refused() {
    let t = run_under("dist-nopmix", &[("SLURM_PROCID", "0"), ("SLURM_STEP_NUM_TASKS", "2"), ("SLURM_LOCALID", "0")]);
    assert!(t.contains("trainc::dist::srun_pmix") && t.contains("--mpi=pmix"), "{t}");
}

/// Only `run` trains data-parallel: N copies of a watcher or a sweep would write the same files.
#[test]
fn watch_and_sweep_under_a_launcher_are_refused() {
    let env = [("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "2")];
    let t = command_under("dist-watch", &env, &["watch", "t.train"]);
    assert!(t.contains("trainc::dist::single_process") && t.contains("trainc watch"), "{t}");
    let t = command_under("dist-sweep", &env, &["sweep", "t.train", "optimizer.lr=1e-3,3e-3"]);
    assert!(t.contains("trainc::dist::single_process") && t.contains("trainc sweep"), "{t}");
}

#[cfg(not(feature = "mpi"))]
#[test]
fn mpirun_ranks_need_the_mpi_feature() {
    let t = run_under("dist-nompi", &[("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "2")]);
    assert!(t.contains("trainc::dist::no_mpi") && t.contains("--features mpi"), "{t}");
}

/// NCCL ranks (`--features nccl`, `--device tch:cuda`) on a machine without a GPU, which is
/// every CI machine: rank 0 makes the communicator's id (libnccl needs no GPU for that) and the
/// ranks exchange it through the rendezvous; each rank then stops with a clear error, as there is
/// no CUDA driver. Where libnccl is missing too, rank 0 says so and rank 1 stops at once with
/// rank 0's reason instead of waiting for a timeout. Run under a real torchrun (its agent's
/// `TCPStore`) and under a hand-made launch (rank 0 listening on `MASTER_PORT`). On a GPU
/// machine `bench/gpu.sh` trains over NCCL instead.
#[cfg(feature = "nccl")]
mod nccl {
    use super::common;

    use std::process::{Command, Output, Stdio};
    use std::time::{Duration, Instant};

    use common::text;

    /// `None` with a SKIP line on a machine with an NVIDIA GPU, where these runs would train.
    fn without_gpu() -> Option<()> {
        let gpus = Command::new("nvidia-smi").arg("-L").output();
        if gpus.is_ok_and(|o| o.status.success() && !o.stdout.is_empty()) {
            eprintln!("SKIP: this machine has a GPU; bench/gpu.sh checks NCCL training there");
            return None;
        }
        Some(())
    }

    /// Rank 1 got past the rendezvous: it received rank 0's id, or rank 0's reason for having none.
    fn assert_rank_1_heard_from_rank_0(out: &Output, started: Instant) {
        let t = text(out);
        assert!(!out.status.success(), "{t}");
        assert!(t.contains("trainc::dist::nccl") && t.contains("rank 0: NCCL loading failed"), "{t}");
        let got_the_id = t.contains("rank 1: NCCL loading failed: libcuda.so.1 was not found");
        let got_the_reason = t.contains("rank 1: the rendezvous at") && t.contains("rank 0 could not start NCCL");
        assert!(got_the_id || got_the_reason, "{t}");
        // Well within the 120 s a rank would otherwise wait (TRAINC_DIST_WAIT_TIMEOUT below).
        assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    }

    #[test]
    fn under_torchrun_the_ranks_meet_in_torchruns_store() {
        if without_gpu().is_none() {
            return;
        }
        if Command::new("torchrun").arg("--help").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "CI must provide torchrun (pip install torch)");
            eprintln!("SKIP: no torchrun on PATH (pip install torch)");
            return;
        }
        let dir = common::tiny_project("dist-nccl-torchrun", "2", "");
        let started = Instant::now();
        let out = Command::new("torchrun")
            // torchrun ends the other ranks once it sees one fail; checking every 5 s instead of
            // every 0.1 s leaves rank 1 time to report what it received after rank 0 stopped.
            .args(["--standalone", "--nproc_per_node", "2", "--monitor-interval", "5", "--no-python"])
            .arg(common::bin())
            .args(["run", "t.train", "--device", "tch:cuda"])
            .current_dir(&*dir)
            .env("TRAINC_DIST_WAIT_TIMEOUT", "120")
            .output()
            .expect("torchrun runs");
        assert_rank_1_heard_from_rank_0(&out, started);
        assert!(!dir.join("runs").exists(), "a run that never trained must leave no run directory");
    }

    #[test]
    fn without_torchrun_rank_0_listens_on_master_port() {
        if without_gpu().is_none() {
            return;
        }
        let dir = common::tiny_project("dist-nccl-hand", "2", "");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let port = port.expect("a free port").to_string();
        let started = Instant::now();
        let rank = |r: &str| {
            Command::new(common::bin())
                .args(["run", "t.train", "--device", "tch:cuda"])
                .current_dir(&*dir)
                .envs([("RANK", r), ("LOCAL_RANK", r), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1")])
                .envs([("MASTER_PORT", &port[..]), ("TRAINC_DIST_WAIT_TIMEOUT", "120")])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("trainc starts")
        };
        let (one, zero) = (rank("1"), rank("0"));
        let (one, zero) = (one.wait_with_output(), zero.wait_with_output());
        let (one, zero) = (one.expect("rank 1 ends"), zero.expect("rank 0 ends"));
        let mut both = zero.clone();
        both.stderr.extend_from_slice(&one.stderr);
        both.status = one.status;
        assert!(!zero.status.success(), "{}", text(&zero));
        assert_rank_1_heard_from_rank_0(&both, started);
    }
}

/// The results JSON `trainc run` prints first on stdout.
fn results(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut values = serde_json::Deserializer::from_str(&stdout).into_iter::<serde_json::Value>();
    values.next().and_then(Result::ok).unwrap_or_else(|| panic!("no results in:\n{}", common::text(out)))
}

/// The only run directory under `runs/tiny`.
fn only_run(runs: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> =
        std::fs::read_dir(runs.join("tiny")).expect("runs").filter_map(Result::ok).map(|e| e.path()).collect();
    assert_eq!(dirs.len(), 1, "only rank 0 creates a run directory: {dirs:?}");
    dirs[0].clone()
}

/// The `train_loss` column of `metrics.csv`.
fn train_losses(run: &Path) -> Vec<f64> {
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = header.iter().position(|h| *h == "train_loss").expect("train_loss column");
    lines.map(|l| l.split(',').nth(col).and_then(|v| v.parse().ok()).expect("a number")).collect()
}

/// The largest difference between two runs' final metrics.
fn largest_difference(a: &serde_json::Value, b: &serde_json::Value) -> f64 {
    let (a, b) = (a["val"].as_object().expect("val metrics"), &b["val"]);
    a.iter().map(|(k, v)| (v.as_f64().expect("number") - b[k].as_f64().expect("same metric")).abs()).fold(0.0, f64::max)
}

// Tolerance 1e-4 for every comparison with one process (or one device): the global batch, the sample order, the
// augmentation and the initial weights are the same, so what differs is only the order of float
// sums (two half-batch means averaged over the ranks instead of one mean over the batch), about
// 1e-7 relative per step; 18 Adam steps keep it far below 1e-4 (4e-8 measured on val.loss).
const TOLERANCE: f64 = 1e-4;

/// `trainc run` in `dir` on `device`, writing under `runs_dir`: its results JSON and run directory.
fn run_on(dir: &Path, device: &str, runs_dir: &str, extra: &[&str]) -> (serde_json::Value, PathBuf) {
    let mut args = vec!["run", "t.train", "--quiet", "--device", device, "--runs-dir", runs_dir];
    args.extend_from_slice(extra);
    let out = common::trainc_cached(dir, &args);
    assert!(out.status.success(), "{}", common::text(&out));
    (results(&out), only_run(&dir.join(runs_dir)))
}

/// Several devices in one process (`run::parallel`): replicas on one CPU device (`flex,flex`)
/// train as a multi-GPU run would. With no batch norm, two and three devices (slices of 4 + 4
/// and 3 + 3 + 2 images) match one device with the same batch within [`TOLERANCE`].
#[test]
fn several_devices_in_one_process_match_one_device() {
    let dir = common::tiny_project("dist-devices", "24", "");
    let (one, one_run) = run_on(&dir, "flex", "one", &[]);
    let one_losses = train_losses(&one_run);
    for devices in ["flex,flex", "flex,flex,flex"] {
        let (many, many_run) = run_on(&dir, devices, devices, &[]);
        assert!(largest_difference(&one, &many) < TOLERANCE, "one device {one} vs {devices} {many}");
        let losses = train_losses(&many_run);
        assert!(
            one_losses.iter().zip(&losses).all(|(a, b)| (a - b).abs() < TOLERANCE),
            "train loss: one device {one_losses:?} vs {devices} {losses:?}"
        );
    }
}

/// Batch norm (per-device statistics, running statistics averaged over the devices) and a mixed
/// batch (each slice keeps its images' mix partners) train on two devices, and `--resume` of a
/// two-device run works.
#[test]
fn batch_norm_and_mixup_train_on_two_devices_and_resume() {
    let extra = "mix = [mixup(alpha = 0.4)]";
    let dir = common::tiny_project("dist-devices-bn", "24", extra);
    let spec = std::fs::read_to_string(dir.join("t.train")).expect("spec");
    let spec = spec.replace("|> relu |> maxpool(2)", "|> batch_norm |> relu |> maxpool(2)");
    std::fs::write(dir.join("t.train"), spec).expect("write spec");
    let (one, _) = run_on(&dir, "flex", "one", &[]);
    let (two, two_run) = run_on(&dir, "flex,flex", "two", &["epochs=1"]);
    // Per-device batch statistics differ from one device's: close, not equal.
    let loss = |r: &serde_json::Value| r["val"]["loss"].as_f64().expect("val loss");
    assert!(loss(&two).is_finite() && loss(&two) < 2.0, "{two}");
    let resumed = common::trainc_cached(
        &dir,
        &["run", "t.train", "--quiet", "--device", "flex,flex", "--resume", two_run.to_str().expect("utf-8")],
    );
    assert!(resumed.status.success(), "{}", common::text(&resumed));
    let resumed = results(&resumed);
    assert!((loss(&resumed) - loss(&one)).abs() < 0.5, "one device {one} vs two devices, resumed {resumed}");
    assert_eq!(train_losses(&two_run).len(), 2, "the resumed run appends its second epoch");
}

#[test]
fn eval_refuses_a_list_of_devices() {
    let t = command_under("dist-eval", &[], &["eval", "t.train", "--checkpoint", "x.bpk", "--device", "flex,flex"]);
    assert!(t.contains("trainc::cli::one_device"), "{t}");
    let t = command_under("dist-unknown", &[], &["run", "t.train", "--device", "flex,wgpu"]);
    assert!(t.contains("trainc::cli::device") && t.contains("`wgpu`"), "{t}");
}

/// Two ranks under `mpirun`.
#[cfg(feature = "mpi")]
mod mpirun {
    use super::common;

    use std::path::Path;
    use std::process::{Child, Command, Output, Stdio};
    use std::time::{Duration, Instant};

    use super::{TOLERANCE, largest_difference, only_run, results, train_losses};
    use common::text;

    /// `step checksum` lines of a rank.
    fn checksums(sums: &Path, rank: usize) -> Vec<String> {
        let file = sums.join(format!("rank{rank}.checksums"));
        std::fs::read_to_string(&file).unwrap_or_default().lines().map(String::from).collect()
    }

    /// `mpirun -np N` with the flags a test machine needs (and root, which CI is), or `None` with a
    /// SKIP line when Open MPI is not installed.
    fn mpirun(np: usize) -> Option<Command> {
        if Command::new("mpirun").arg("--version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "CI must provide mpirun (apt-get install openmpi-bin)");
            eprintln!("SKIP: no mpirun; apt-get install openmpi-bin libopenmpi-dev");
            return None;
        }
        let mut cmd = Command::new("mpirun");
        // More ranks than cores on a 2-core CI machine.
        cmd.args(["-np", &np.to_string(), "--oversubscribe"]);
        let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if uid.is_ok_and(|u| u == "0") {
            cmd.arg("--allow-run-as-root");
        }
        Some(cmd)
    }

    /// `mpirun -np 2 … trainc ARGS` in `dir`, each rank logging its weights' checksums to `sums`.
    fn launch(dir: &Path, sums: &Path, env: &[(&str, &str)], args: &[&str]) -> Option<Command> {
        let mut cmd = mpirun(2)?;
        std::fs::create_dir_all(sums).expect("checksum dir");
        cmd.current_dir(dir).env("TRAINC_CACHE_DIR", dir.join(".cache")).env("TRAINC_DIST_CHECKSUMS", sums).args([
            "-x",
            "TRAINC_CACHE_DIR",
            "-x",
            "TRAINC_DIST_CHECKSUMS",
        ]);
        for (k, v) in env {
            cmd.env(k, v).args(["-x", k]);
        }
        cmd.arg(common::bin()).args(args);
        Some(cmd)
    }

    #[test]
    fn two_ranks_keep_identical_weights_and_match_one_process() {
        // 72 training images: 9 global batches of 8, 4 per rank; 18 validation images.
        let dir = common::tiny_project("dist-ddp", "24", "");
        let Some(mut two) = launch(&dir, &dir.join("sums"), &[], &["run", "t.train", "--quiet", "--runs-dir", "dist"])
        else {
            return;
        };
        let started = Instant::now();
        let dist = two.output().expect("mpirun runs");
        assert!(dist.status.success(), "{}", text(&dist));
        eprintln!("2 ranks: {:.1} s", started.elapsed().as_secs_f64());
        let (rank0, rank1) = (checksums(&dir.join("sums"), 0), checksums(&dir.join("sums"), 1));
        assert_eq!(rank0.len(), 18, "2 epochs of 9 steps: {rank0:?}\n{}", text(&dist));
        assert_eq!(rank0, rank1, "the ranks' weights differ after some step");
        let dist_run = only_run(&dir.join("dist"));

        let single = common::trainc_cached(&dir, &["run", "t.train", "--quiet", "--runs-dir", "single"]);
        assert!(single.status.success(), "{}", text(&single));
        let (one, two) = (results(&single), results(&dist));
        assert!(largest_difference(&one, &two) < TOLERANCE, "one process {one} vs two ranks {two}");
        let (a, b) = (train_losses(&only_run(&dir.join("single"))), train_losses(&dist_run));
        assert_eq!(a.len(), 2);
        assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < TOLERANCE), "train loss: one {a:?} vs two ranks {b:?}");

        // Resumed on both ranks from the run directory of a one-epoch run, the second epoch equals
        // the straight run's.
        let Some(mut first) = launch(
            &dir,
            &dir.join("sums-split"),
            &[],
            &["run", "t.train", "epochs=1", "--quiet", "--runs-dir", "split"],
        ) else {
            return;
        };
        let first = first.output().expect("mpirun runs");
        assert!(first.status.success(), "{}", text(&first));
        let split = only_run(&dir.join("split"));
        let resume = ["run", "t.train", "--quiet", "--resume", split.to_str().expect("utf-8")];
        let resumed =
            launch(&dir, &dir.join("sums-split"), &[], &resume).expect("mpirun").output().expect("mpirun runs");
        assert!(resumed.status.success(), "{}", text(&resumed));
        let (rank0, rank1) = (checksums(&dir.join("sums-split"), 0), checksums(&dir.join("sums-split"), 1));
        assert_eq!(rank0.len(), 18, "{rank0:?}");
        assert_eq!(rank0, rank1, "the resumed ranks' weights differ after some step");
        assert!(largest_difference(&two, &results(&resumed)) < TOLERANCE, "straight {two} vs resumed");
    }

    /// Processes and devices combine: two ranks of two devices each (`--device flex,flex`, each
    /// rank's half batch split again) keep identical weights and match one process on one device.
    #[test]
    fn two_ranks_of_two_devices_match_one_device() {
        let dir = common::tiny_project("dist-ranks-devices", "24", "");
        let args = ["run", "t.train", "--quiet", "--device", "flex,flex", "--runs-dir", "both"];
        let Some(mut both) = launch(&dir, &dir.join("sums"), &[], &args) else { return };
        let both = both.output().expect("mpirun runs");
        assert!(both.status.success(), "{}", text(&both));
        let (rank0, rank1) = (checksums(&dir.join("sums"), 0), checksums(&dir.join("sums"), 1));
        assert_eq!(rank0.len(), 18, "{rank0:?}");
        assert_eq!(rank0, rank1, "the ranks' weights differ after some step");
        let single = common::trainc_cached(&dir, &["run", "t.train", "--quiet", "--runs-dir", "single"]);
        assert!(single.status.success(), "{}", text(&single));
        let (one, both) = (results(&single), results(&both));
        assert!(largest_difference(&one, &both) < TOLERANCE, "one device {one} vs 2 ranks × 2 devices {both}");
    }

    #[test]
    fn a_global_batch_that_does_not_split_over_the_ranks_is_refused() {
        let dir = common::tiny_project("dist-batch", "2", "");
        let Some(mut cmd) = launch(&dir, &dir.join("sums"), &[], &["run", "t.train", "data.batch=7", "--quiet"]) else {
            return;
        };
        let out = cmd.output().expect("mpirun runs");
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(t.contains("trainc::dist::batch") && t.contains("global batch 7"), "{t}");
    }

    /// The ranks' processes (children of `mpirun`), by rank, once both logged `steps` steps.
    fn ranks_after(mpirun: &Child, sums: &Path, steps: usize) -> Vec<u32> {
        let deadline = Instant::now() + Duration::from_secs(120);
        while checksums(sums, 0).len() < steps || checksums(sums, 1).len() < steps {
            assert!(Instant::now() < deadline, "the ranks did not train {steps} steps in time");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut ranks = vec![0u32; 2];
        for entry in std::fs::read_dir("/proc").expect("/proc").filter_map(Result::ok) {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // `pid (comm) state ppid …`: the parent follows the last `)`.
            let ppid = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|p| p.parse().ok());
            if ppid != Some(mpirun.id()) {
                continue;
            }
            let env = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            for var in env.split(|b| *b == 0) {
                if let Some(rank) = var.strip_prefix(b"OMPI_COMM_WORLD_RANK=") {
                    let rank: usize = String::from_utf8_lossy(rank).parse().expect("a rank");
                    ranks[rank] = pid;
                }
            }
        }
        assert!(ranks.iter().all(|p| *p != 0), "ranks not found under mpirun: {ranks:?}");
        ranks
    }

    /// Signals `pid` with `kill -SIGNAL`.
    fn signal(pid: u32, signal: &str) {
        let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Waits for `child` at most `limit`; its output and how long it took.
    fn wait_at_most(mut child: Child, limit: Duration) -> (Output, Duration) {
        let started = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > limit {
                let _ = child.kill();
                panic!("the job still ran {} s after a rank failed", limit.as_secs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (child.wait_with_output().expect("output"), started.elapsed())
    }

    /// A long run whose ranks wait `timeout` seconds for each other.
    fn long_run(dir: &Path, sums: &Path, timeout: &str) -> Option<Child> {
        let env = [("TRAINC_DIST_TIMEOUT", timeout), ("TRAINC_DIST_WAIT_TIMEOUT", timeout)];
        let mut cmd = launch(dir, sums, &env, &["run", "t.train", "epochs=500", "--quiet"])?;
        Some(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("mpirun starts"))
    }

    #[test]
    fn a_killed_rank_ends_the_job_within_the_timeout() {
        let dir = common::tiny_project("dist-kill", "8", "");
        let sums = dir.join("sums");
        let Some(job) = long_run(&dir, &sums, "5") else { return };
        let ranks = ranks_after(&job, &sums, 5);
        signal(ranks[1], "-KILL");
        let (out, took) = wait_at_most(job, Duration::from_secs(5 + 20));
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        // mpirun notices the dead rank and ends rank 0 at once; otherwise rank 0's watchdog would.
        assert!(t.contains("rank 1") || t.contains("trainc::dist::timeout"), "{t}");
        eprintln!("the job ended {:.1} s after rank 1 was killed", took.as_secs_f64());
    }

    #[test]
    fn a_stalled_rank_makes_the_other_stop_with_a_timeout_error() {
        // SIGSTOP: the rank neither answers nor dies, so mpirun notices nothing; the watchdog must.
        let dir = common::tiny_project("dist-stall", "8", "");
        let sums = dir.join("sums");
        let Some(job) = long_run(&dir, &sums, "3") else { return };
        let ranks = ranks_after(&job, &sums, 5);
        signal(ranks[1], "-STOP");
        let (out, took) = wait_at_most(job, Duration::from_secs(3 + 20));
        // mpirun ends the stopped rank with the job; make sure nothing is left behind.
        let _ = Command::new("kill").args(["-KILL", &ranks[1].to_string()]).status();
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(
            t.contains("trainc::dist::timeout") && t.contains("rank 0: no answer from the other ranks within 3 s"),
            "{t}"
        );
        assert!(took >= Duration::from_secs(3), "stopped before the timeout: {took:?}");
        eprintln!("rank 0 gave up {:.1} s after rank 1 stalled", took.as_secs_f64());
    }
}
