//! A client of MLflow's tracking REST API (`/api/2.0/mlflow/…`) and of its artifact proxy
//! (`/api/2.0/mlflow-artifacts/artifacts/…`, served by `mlflow server`, which proxies
//! artifacts by default since MLflow 2.0 — `--serve-artifacts`).
//!
//! **Decision: HTTP/1.1 over `std::net::TcpStream`, no HTTP crate.** Every call is one small
//! request to one server (a JSON `POST`/`GET`, or a `PUT` of a file) sent with
//! `Connection: close`, so the client is a request line, three headers and a response parser
//! that handles `Content-Length`, chunked and read-to-end bodies (~100 lines). A crate such as
//! `ureq` would add a dependency tree to a build that four people share for the same three
//! requests, and without its TLS feature it would not reach an `https://` server either; a
//! tracking server behind HTTPS is reached through a local proxy (the checker says so).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::{Value, json};

/// How long connecting and each read or write may take.
const CONNECT: Duration = Duration::from_secs(5);
const IO: Duration = Duration::from_secs(60);

/// A tracking server at `http://host:port[/prefix]`.
#[derive(Clone, Debug)]
pub struct Client {
    pub uri: String,
    host: String,
    port: u16,
    /// A path prefix the server is mounted under (`http://host/mlflow`), without slashes.
    prefix: String,
}

/// An HTTP response: status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Client {
    pub fn new(uri: &str) -> Result<Client, String> {
        let (host, port, prefix) = crate::ir::http_authority(uri)?;
        Ok(Client { uri: uri.to_string(), host, port, prefix })
    }

    fn url_path(&self, path: &str) -> String {
        if self.prefix.is_empty() { path.to_string() } else { format!("/{}{path}", self.prefix) }
    }

    /// One request; the error says what failed (connect, write, read, parse).
    pub fn request(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Result<Response, String> {
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve `{}`: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("`{}` has no address", self.host))?;
        let mut stream =
            TcpStream::connect_timeout(&addr, CONNECT).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = stream.set_read_timeout(Some(IO));
        let _ = stream.set_write_timeout(Some(IO));
        let head = format!(
            "{method} {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: trainc/{}\r\nAccept: application/json\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.url_path(path),
            self.host,
            self.port,
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .map_err(|e| format!("cannot send {method} {path}: {e}"))?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(|e| format!("no answer to {method} {path}: {e}"))?;
        parse_response(&raw).ok_or_else(|| format!("a malformed answer to {method} {path}"))
    }

    /// A JSON call of the tracking API; an error status becomes its MLflow message.
    pub fn call(&self, method: &str, endpoint: &str, body: &Value) -> Result<Value, String> {
        let path = format!("/api/2.0/mlflow/{endpoint}");
        let bytes = if method == "GET" { Vec::new() } else { serde_json::to_vec(body).unwrap_or_default() };
        let r = self.request(method, &path, "application/json", &bytes)?;
        let value: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        if r.status == 200 {
            return Ok(value);
        }
        let message =
            value["message"].as_str().map_or_else(|| String::from_utf8_lossy(&r.body).into_owned(), String::from);
        Err(format!("{method} {endpoint}: HTTP {} {}", r.status, message.trim()))
    }

    /// The id of experiment `name`, created when missing.
    pub fn experiment(&self, name: &str) -> Result<String, String> {
        let query = format!("experiments/get-by-name?experiment_name={}", percent_encode(name));
        match self.call("GET", &query, &Value::Null) {
            Ok(v) => v["experiment"]["experiment_id"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| format!("no experiment id in {v}")),
            Err(e) if e.contains("HTTP 404") => {
                let v = self.call("POST", "experiments/create", &json!({ "name": name }))?;
                v["experiment_id"].as_str().map(String::from).ok_or_else(|| format!("no experiment id in {v}"))
            }
            Err(e) => Err(e),
        }
    }

    /// Uploads `bytes` as the artifact `name` under `root` (the run's `mlflow-artifacts:` path).
    pub fn put_artifact(&self, root: &str, name: &str, bytes: &[u8]) -> Result<(), String> {
        let path =
            format!("/api/2.0/mlflow-artifacts/artifacts/{}/{}", root.trim_matches('/'), percent_encode_path(name));
        let r = self.request("PUT", &path, "application/octet-stream", bytes)?;
        match r.status {
            200 | 201 | 204 => Ok(()),
            s => Err(format!("PUT {name}: HTTP {s} {}", String::from_utf8_lossy(&r.body).trim())),
        }
    }
}

/// The artifact proxy's path of a run's `artifact_uri` (`mlflow-artifacts:/1/<run>/artifacts`,
/// optionally with `//host:port`); `None` when the server stores artifacts where only a client
/// with that store's credentials can write (`s3://…`, a local path).
pub fn proxied_root(artifact_uri: &str) -> Option<String> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:")?;
    let rest = match rest.strip_prefix("//") {
        Some(authority_and_path) => authority_and_path.split_once('/').map_or("", |(_, p)| p),
        None => rest,
    };
    Some(rest.trim_matches('/').to_string())
}

/// Status, headers and body of an HTTP/1.1 response (chunked or not).
fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase()))
        .collect();
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(body)?
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.get(..n)?.to_vec()
    } else {
        body.to_vec()
    };
    Some(Response { status, body })
}

/// The body of a chunked transfer.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Percent-encoding of a path, keeping its slashes.
fn percent_encode_path(s: &str) -> String {
    s.split('/').map(percent_encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_with_length_chunks_or_neither() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk").expect("parsed");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n";
        let r = parse_response(chunked).expect("parsed");
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abcde"[..]));
        let r = parse_response(b"HTTP/1.0 204 No Content\r\n\r\n").expect("parsed");
        assert!(r.body.is_empty());
        assert!(parse_response(b"garbage").is_none());
    }

    #[test]
    fn artifact_roots_of_the_proxy_only() {
        assert_eq!(proxied_root("mlflow-artifacts:/1/abc/artifacts").as_deref(), Some("1/abc/artifacts"));
        assert_eq!(proxied_root("mlflow-artifacts://h:5000/1/abc/artifacts").as_deref(), Some("1/abc/artifacts"));
        assert_eq!(proxied_root("s3://bucket/1/abc/artifacts"), None);
        assert_eq!(proxied_root("/tmp/mlruns/1/abc/artifacts"), None);
    }

    #[test]
    fn addresses_and_names_are_encoded() {
        assert_eq!(percent_encode("my exp/1"), "my%20exp%2F1");
        assert_eq!(percent_encode_path("plots/a b.png"), "plots/a%20b.png");
        let c = Client::new("http://127.0.0.1:5000/mlflow/").expect("valid");
        assert_eq!((c.port, c.url_path("/api")), (5000, "/mlflow/api".to_string()));
        assert!(Client::new("https://x").is_err());
    }
}
