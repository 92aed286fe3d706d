//! `trainc lsp`, in process: a client on `lsp_server::Connection::memory` drives the server
//! through each feature, and the answers are insta snapshots (the stdlib folder is redacted).
//! The last test runs the real binary over stdio.
// Tests write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};
use trainc::host::MemHost;
use trainc::lsp::{Config, serve};

const MAIN: &str = "/project/main.train";
const LIB: &str = "/project/lib.train";

const MAIN_TEXT: &str = "use std/backbones.{small_cnn}
use \"lib.train\".{head}

// A small classifier.
model net(x: Image[B, 1, 28, 28]) -> Logits[B, 10] {
  h = x |> conv2d(16, k = 3, padding = 1) |> relu
  f = small_cnn(h, width = 8)
  return head(f)
}
";

const LIB_TEXT: &str = "block head(x: [B, C, H, W]) -> [B, 10] {
  v = x |> flatten
  return linear(v, 10)
}
";

fn uri(path: &str) -> String {
    format!("file://{path}")
}

/// A test client talking to a server thread.
struct Client {
    conn: Connection,
    server: Option<std::thread::JoinHandle<Result<(), String>>>,
    next: i32,
    notes: VecDeque<Notification>,
    stdlib: common::Scratch,
}

impl Client {
    fn start(utf8: bool) -> Client {
        Client::start_with(utf8, MemHost::new().with(LIB, LIB_TEXT))
    }

    /// A server whose disk holds `disk`'s files.
    fn start_with(utf8: bool, disk: MemHost) -> Client {
        let (server_side, conn) = Connection::memory();
        // One folder per server: tests run in parallel, and a Scratch removes its folder when dropped.
        static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stdlib = common::scratch(&format!("lsp-std-{utf8}-{n}"));
        let dir = stdlib.to_path_buf();
        let server =
            std::thread::spawn(move || serve(&server_side, Config { disk: Box::new(disk), stdlib_dir: Some(dir) }));
        let mut client = Client { conn, server: Some(server), next: 0, notes: VecDeque::new(), stdlib };
        let encodings = if utf8 { json!(["utf-8", "utf-16"]) } else { json!(["utf-16"]) };
        let init =
            client.request("initialize", json!({ "capabilities": { "general": { "positionEncodings": encodings } } }));
        assert_eq!(init["capabilities"]["positionEncoding"], if utf8 { "utf-8" } else { "utf-16" });
        client.notify("initialized", json!({}));
        client
    }

    fn notify(&self, method: &str, params: Value) {
        self.conn.sender.send(Message::Notification(Notification::new(method.into(), params))).expect("server alive");
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = RequestId::from(self.next);
        self.conn.sender.send(Message::Request(Request::new(id.clone(), method.into(), params))).expect("server alive");
        loop {
            match self.conn.receiver.recv_timeout(Duration::from_secs(30)).expect("an answer") {
                Message::Response(r) if r.id == id => {
                    return r.response_result.unwrap_or_else(|e| panic!("{method} failed: {e:?}"));
                }
                Message::Notification(n) => self.notes.push_back(n),
                _ => {}
            }
        }
    }

    fn open(&self, path: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri(path), "languageId": "trainc", "version": 1, "text": text } }),
        );
    }

    fn change(&self, path: &str, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri(path), "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    /// The next diagnostics published for a document.
    fn diagnostics(&mut self, path: &str) -> Value {
        let wanted = uri(path);
        loop {
            let note = match self.notes.pop_front() {
                Some(n) => n,
                None => match self.conn.receiver.recv_timeout(Duration::from_secs(30)).expect("diagnostics") {
                    Message::Notification(n) => n,
                    _ => continue,
                },
            };
            if note.method == "textDocument/publishDiagnostics" && note.params["uri"] == wanted {
                return note.params;
            }
        }
    }

    /// `textDocument/…` at a position given by the text before the cursor in `path`'s `text`.
    fn at(&mut self, method: &str, path: &str, text: &str, before: &str, extra: Value) -> Value {
        let offset = text.find(before).unwrap_or_else(|| panic!("`{before}` not in the text")) + before.len();
        let line = text[..offset].matches('\n').count();
        let character = text[..offset].rsplit('\n').next().map_or(0, |l| l.encode_utf16().count());
        let mut params =
            json!({ "textDocument": { "uri": uri(path) }, "position": { "line": line, "character": character } });
        if let (Value::Object(p), Value::Object(e)) = (&mut params, extra) {
            p.extend(e);
        }
        self.request(method, params)
    }

    /// Pretty JSON with the stdlib folder written `<stdlib>`.
    fn show(&self, value: &Value) -> String {
        let text = serde_json::to_string_pretty(value).expect("json");
        text.replace(&format!("file://{}", self.stdlib.display()), "file://<stdlib>")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let result = self.server.take().map(|s| s.join().expect("server thread"));
        assert_eq!(result, Some(Ok(())));
    }
}

fn opened() -> Client {
    let mut client = Client::start(false);
    client.open(MAIN, MAIN_TEXT);
    let d = client.diagnostics(MAIN);
    assert_eq!(d["diagnostics"], json!([]), "{}", client.show(&d));
    client
}

#[test]
fn diagnostics_have_codes_ranges_related_spans_and_help() {
    let mut client = Client::start(false);
    let text = "model m(x: Image[B, 3, 8, 8]) -> [B, 4, 8, 8] {\n  h = x |> conv2dd(4)\n  h = x |> conv2d(5, padding = 1)\n  return h\n}\n";
    client.open(MAIN, text);
    let d = client.diagnostics(MAIN);
    insta::assert_snapshot!(client.show(&d));
}

#[test]
fn positions_are_utf16_unless_the_client_offers_utf8() {
    let text = "// ×\nmodel m(x: Image[B, 3, 8, 8]) { /* ×× */ return x |> nope }\n";
    let mut characters = Vec::new();
    for utf8 in [false, true] {
        let mut client = Client::start(utf8);
        client.open(MAIN, text);
        let d = client.diagnostics(MAIN);
        characters.push(d["diagnostics"][0]["range"]["start"]["character"].clone());
    }
    // `×` is one UTF-16 unit and two UTF-8 bytes.
    let column = "model m(x: Image[B, 3, 8, 8]) { /* ×× */ return x |> ".encode_utf16().count();
    assert_eq!(characters, vec![json!(column), json!(column + 2)]);
}

#[test]
fn hover_shows_shapes_parameters_paths_and_signatures() {
    let mut client = opened();
    let mut out = String::new();
    for before in ["|> conv2", "|> rel", "  h", "= small_cn", "return hea", "model ne", "use std/backbo"] {
        let hover = client.at("textDocument/hover", MAIN, MAIN_TEXT, before, json!({}));
        out.push_str(&format!(
            "── hover after `{before}`\n{}\n",
            hover["contents"]["value"].as_str().unwrap_or("(none)")
        ));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn inlay_hints_show_each_binding_shape() {
    let mut client = opened();
    let hints = client.request(
        "textDocument/inlayHint",
        json!({ "textDocument": { "uri": uri(MAIN) }, "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 99, "character": 0 } } }),
    );
    insta::assert_snapshot!(client.show(&hints));
}

fn labels(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(|i| i["label"].as_str().map(String::from)).collect()
}

#[test]
fn completion_knows_the_context() {
    let mut client = opened();
    let text = "use std/backbones.{small_cnn, st}\nuse std/ne\n\nmodel net(x: Image[B, 1, 28, 28]) {\n  h = x |> conv2d(16, k = 3) |> \n  g = conv2d(h, 8, \n  return h\n}\n\ntrain {\n  model = net\n  ep\n  checkpoint { mo }\n}\n";
    client.change(MAIN, 2, text);
    let mut out = String::new();
    for before in ["small_cnn, st", "use std/ne", "|> conv2d(16, k = 3) |> ", "conv2d(h, 8, ", "  ep", "{ mo"] {
        let items = client.at("textDocument/completion", MAIN, text, before, json!({}));
        let mut l = labels(&items);
        l.truncate(12);
        out.push_str(&format!("── after `{before}`: {}\n", l.join(" ")));
        if before.ends_with("|> ") {
            let conv = items.as_array().and_then(|a| a.iter().find(|i| i["label"] == "conv2d")).cloned();
            out.push_str(&format!("{}\n", client.show(&conv.unwrap_or_default())));
        }
    }
    insta::assert_snapshot!(out);
}

#[test]
fn signature_help_follows_the_argument() {
    let mut client = opened();
    let text = "model net(x: Image[B, 1, 28, 28]) {\n  return x |> conv2d(16, k = 3, stride = \n}\n";
    client.change(MAIN, 2, text);
    let help = client.at("textDocument/signatureHelp", MAIN, text, "stride = ", json!({}));
    insta::assert_snapshot!(client.show(&help));
}

#[test]
fn definition_and_references_cross_files_and_the_stdlib() {
    let mut client = opened();
    client.open(LIB, LIB_TEXT);
    let mut out = String::new();
    for before in ["small_cn", "return hea", "return head("] {
        let def = client.at("textDocument/definition", MAIN, MAIN_TEXT, before, json!({}));
        out.push_str(&format!("── definition after `{before}`\n{}\n", client.show(&def)));
    }
    let refs = client.at(
        "textDocument/references",
        LIB,
        LIB_TEXT,
        "block hea",
        json!({ "context": { "includeDeclaration": true } }),
    );
    out.push_str(&format!("── references of `head`\n{}\n", client.show(&refs)));
    insta::assert_snapshot!(out);
    // The stdlib copy the definition points at exists, read-only.
    let std_file = client.stdlib.join("backbones.train");
    assert!(std::fs::metadata(&std_file).expect("the stdlib copy exists").permissions().readonly());
}

#[test]
fn document_symbols_list_items_and_bindings() {
    let mut client = opened();
    let symbols = client.request("textDocument/documentSymbol", json!({ "textDocument": { "uri": uri(MAIN) } }));
    insta::assert_snapshot!(client.show(&symbols));
}

#[test]
fn formatting_is_trainc_fmt() {
    let mut client = Client::start(false);
    let text = "augment a{hflip;normalize(imagenet);}\n";
    client.open(MAIN, text);
    let edits = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri(MAIN) }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    assert_eq!(edits[0]["newText"], "augment a { hflip; normalize(imagenet) }\n");
    assert_eq!(edits[0]["range"]["end"], json!({ "line": 1, "character": 0 }));
}

#[test]
fn an_edit_rechecks_open_files_that_import_it() {
    let mut client = opened();
    client.open(LIB, LIB_TEXT);
    assert_eq!(client.diagnostics(LIB)["diagnostics"], json!([]));
    // `head` now returns 12 classes: the model that declares `Logits[B, 10]` breaks.
    client.change(LIB, 2, &LIB_TEXT.replace("10)", "12)").replace("[B, 10]", "[B, 12]"));
    let d = loop {
        let d = client.diagnostics(MAIN);
        if d["diagnostics"] != json!([]) {
            break d;
        }
    };
    let codes: Vec<&str> =
        d["diagnostics"].as_array().into_iter().flatten().filter_map(|d| d["code"].as_str()).collect();
    assert!(!codes.is_empty(), "{}", client.show(&d));
}

#[test]
fn a_broken_import_that_is_not_open_shows_at_its_use() {
    let disk = MemHost::new().with(LIB, "block head(x: [B, C, H, W]) {\n  return x |> flaten\n}\n");
    let mut client = Client::start_with(false, disk);
    client.open(MAIN, MAIN_TEXT);
    let d = client.diagnostics(MAIN);
    insta::assert_snapshot!(client.show(&d));
}

#[test]
fn a_burst_of_changes_is_checked_once_per_batch() {
    let mut client = opened();
    for version in 2..=60 {
        client.change(MAIN, version, &MAIN_TEXT.replace("width = 8", &format!("width = {version}")));
    }
    let mut published = 0;
    loop {
        let d = client.diagnostics(MAIN);
        published += 1;
        if d["version"] == 60 {
            break;
        }
    }
    assert!(published < 59, "{published} checks for 59 changes");
}

/// The real binary over stdio: initialize, open a file with an error and get its diagnostics
/// with the right range, hover a node for its shape, complete after `|> `, format, shut down.
#[test]
fn the_binary_speaks_lsp_over_stdio() {
    let dir = common::scratch("lsp-stdio");
    let file = dir.join("m.train");
    let text = "model m(x: Image[B, 3, 16, 16]) {\n  h = x |> conv2d(8, k = 3, padding = 1)\n  return h |> nope\n}\n";
    std::fs::write(&file, text).expect("written");
    let mut child = Command::new(common::bin())
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("trainc lsp starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let file_uri = format!("file://{}", file.display());
    let mut send = |value: Value| {
        let body = value.to_string();
        write!(stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        stdin.flush().expect("flush");
    };
    let std_dir = dir.join("std");
    send(
        json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {}, "initializationOptions": { "stdlibDir": std_dir } } }),
    );
    let init = read_until(&mut stdout, |m| m["id"] == 1);
    assert_eq!(init["result"]["capabilities"]["positionEncoding"], "utf-16");
    send(json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }));
    send(
        json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": { "textDocument": { "uri": file_uri, "languageId": "trainc", "version": 1, "text": text } } }),
    );
    let diags = read_until(&mut stdout, |m| m["method"] == "textDocument/publishDiagnostics");
    let first = &diags["params"]["diagnostics"][0];
    assert_eq!(
        first["range"],
        json!({ "start": { "line": 2, "character": 14 }, "end": { "line": 2, "character": 18 } })
    );
    assert_eq!(first["severity"], 1);
    send(
        json!({ "jsonrpc": "2.0", "id": 2, "method": "textDocument/hover", "params": { "textDocument": { "uri": file_uri }, "position": { "line": 1, "character": 13 } } }),
    );
    let hover = read_until(&mut stdout, |m| m["id"] == 2);
    let value = hover["result"]["contents"]["value"].as_str().unwrap_or_default().to_string();
    assert!(value.contains("[B, 8, 16, 16]"), "{value}");
    send(
        json!({ "jsonrpc": "2.0", "id": 3, "method": "textDocument/completion", "params": { "textDocument": { "uri": file_uri }, "position": { "line": 2, "character": 14 } } }),
    );
    let completion = read_until(&mut stdout, |m| m["id"] == 3);
    assert!(labels(&completion["result"]).contains(&"relu".to_string()), "{completion}");
    assert!(!labels(&completion["result"]).contains(&"adamw".to_string()), "only layers and blocks after `|>`");
    send(
        json!({ "jsonrpc": "2.0", "id": 4, "method": "textDocument/formatting", "params": { "textDocument": { "uri": file_uri }, "options": { "tabSize": 2, "insertSpaces": true } } }),
    );
    let format = read_until(&mut stdout, |m| m["id"] == 4);
    assert_eq!(format["result"], json!([]), "the file is formatted already");
    send(json!({ "jsonrpc": "2.0", "id": 5, "method": "shutdown" }));
    read_until(&mut stdout, |m| m["id"] == 5);
    send(json!({ "jsonrpc": "2.0", "method": "exit" }));
    let status = child.wait().expect("exits");
    assert!(status.success());
}

/// Reads framed messages until one matches.
fn read_until(out: &mut impl BufRead, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let mut length = 0;
        loop {
            let mut header = String::new();
            assert!(out.read_line(&mut header).expect("header") > 0, "the server closed its output");
            let header = header.trim();
            if header.is_empty() {
                break;
            }
            if let Some(n) = header.strip_prefix("Content-Length: ") {
                length = n.parse().expect("a length");
            }
        }
        let mut body = vec![0; length];
        out.read_exact(&mut body).expect("body");
        let message: Value = serde_json::from_slice(&body).expect("json");
        if wanted(&message) {
            return message;
        }
    }
}
