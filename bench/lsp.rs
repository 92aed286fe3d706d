//! `cargo bench --no-default-features --bench lsp`: the time from a `didChange` to its
//! `publishDiagnostics` in `trainc lsp`, on examples/detector.train (ResNet-18 + FPN + CenterNet
//! from the stdlib), with and without reading the dataset. One edit at a time (the next is sent
//! when the last one's diagnostics arrive), alternating two texts so every change is real.
//! Prints a table: median, p90 and max over the runs.
// A benchmark reads the example from the disk like the server does.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::json;
use trainc::host::FsHost;
use trainc::lsp::{Config, serve};

const RUNS: usize = 200;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("examples/detector.train");
    let text = std::fs::read_to_string(&path).expect("examples/detector.train");
    println!("| example | data read | runs | median (ms) | p90 (ms) | max (ms) |");
    println!("|---|---|---|---|---|---|");
    for skip_data in [true, false] {
        let times = measure(&path, &text, skip_data);
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
        println!(
            "| examples/detector.train | {} | {RUNS} | {} | {} | {} |",
            if skip_data { "no (skipData)" } else { "yes" },
            ms(times[RUNS / 2]),
            ms(times[RUNS * 9 / 10]),
            ms(times[RUNS - 1])
        );
    }
}

fn measure(path: &std::path::Path, text: &str, skip_data: bool) -> Vec<Duration> {
    let (server_side, client) = Connection::memory();
    let stdlib = std::env::temp_dir().join("trainc-bench-lsp-std");
    let server =
        std::thread::spawn(move || serve(&server_side, Config { disk: Box::new(FsHost), stdlib_dir: Some(stdlib) }));
    let send = |m: Message| client.sender.send(m).expect("server alive");
    let init = json!({ "capabilities": {}, "initializationOptions": { "skipData": skip_data } });
    send(Request::new(RequestId::from(1), "initialize".into(), init).into());
    wait(&client, |m| matches!(m, Message::Response(_)));
    send(Notification::new("initialized".into(), json!({})).into());
    let uri = format!("file://{}", path.display());
    let open = json!({ "textDocument": { "uri": uri, "languageId": "trainc", "version": 0, "text": text } });
    send(Notification::new("textDocument/didOpen".into(), open).into());
    wait(&client, is_diagnostics);
    let edited = text.replace("epochs    = 20", "epochs    = 21");
    let mut times = Vec::with_capacity(RUNS);
    for version in 1..=RUNS {
        let body = if version % 2 == 1 { &edited } else { text };
        let change =
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": body }] });
        let start = Instant::now();
        send(Notification::new("textDocument/didChange".into(), change).into());
        wait(&client, is_diagnostics);
        times.push(start.elapsed());
    }
    send(Request::new(RequestId::from(2), "shutdown".into(), json!(null)).into());
    wait(&client, |m| matches!(m, Message::Response(_)));
    send(Notification::new("exit".into(), json!(null)).into());
    server.join().expect("server thread").expect("server ran");
    times.sort();
    times
}

fn is_diagnostics(m: &Message) -> bool {
    matches!(m, Message::Notification(n) if n.method == "textDocument/publishDiagnostics")
}

fn wait(client: &Connection, wanted: impl Fn(&Message) -> bool) {
    loop {
        let m = client.receiver.recv_timeout(Duration::from_secs(30)).expect("the server answers");
        if wanted(&m) {
            return;
        }
    }
}
