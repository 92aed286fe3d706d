//! The server's state and its message loop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, InlayHintRequest, References,
    Request as _, SignatureHelpRequest,
};
use lsp_types::{
    CompletionOptions, DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DocumentFormattingParams, InitializeParams, OneOf, PositionEncodingKind, PublishDiagnosticsParams,
    ServerCapabilities, SignatureHelpOptions, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::analysis::{Analysis, ROOT};
use super::overlay::Overlay;
use super::position::{Encoding, LineIndex};
use super::{completion, diagnostics, hover, inlay, navigation, signature, symbols, uri};
use crate::frontend::Options;
use crate::host::Host;

/// How the server is set up besides what the client sends.
pub struct Config {
    /// Where everything but open documents is read from (the disk, or a `MemHost` in tests).
    pub disk: Box<dyn Host>,
    /// Where the stdlib copies go; `initializationOptions.stdlibDir` and then a cache folder
    /// are used when `None`.
    pub stdlib_dir: Option<PathBuf>,
}

/// The server's state between messages.
pub(super) struct Server {
    pub encoding: Encoding,
    pub options: Options,
    pub stdlib_dir: PathBuf,
    pub overlay: Overlay,
    versions: BTreeMap<PathBuf, i32>,
    pub analyses: BTreeMap<PathBuf, Analysis>,
    /// The last analysis of each document whose text parsed, for completion while the current
    /// text does not.
    pub parsed: BTreeMap<PathBuf, Analysis>,
    /// Documents closed since the last refresh, whose diagnostics are cleared.
    closed: Vec<Uri>,
    dirty: bool,
}

/// Runs the server on a connection until the client says `exit` or goes away.
pub fn serve(connection: &Connection, config: Config) -> Result<(), String> {
    let (id, params) = connection.initialize_start().map_err(|e| e.to_string())?;
    let params: InitializeParams = serde_json::from_value(params).map_err(|e| e.to_string())?;
    let mut server = Server::new(&params, config);
    let result = serde_json::json!({
        "capabilities": server.capabilities(),
        "serverInfo": { "name": "trainc", "version": env!("CARGO_PKG_VERSION") },
    });
    connection.initialize_finish(id, result).map_err(|e| e.to_string())?;
    server.run(connection)
}

impl Server {
    fn new(params: &InitializeParams, config: Config) -> Server {
        let offered = params.capabilities.general.as_ref().and_then(|g| g.position_encodings.as_ref());
        let utf8 = offered.is_some_and(|e| e.contains(&PositionEncodingKind::UTF8));
        let init = params.initialization_options.as_ref();
        let option = |key: &str| init.and_then(|o| o.get(key));
        let stdlib_dir = config
            .stdlib_dir
            .or_else(|| option("stdlibDir").and_then(|v| v.as_str()).map(PathBuf::from))
            .unwrap_or_else(uri::default_stdlib_dir);
        // Without the copies, definitions in the stdlib point at files that are not there; the
        // rest of the server works, so a read-only cache is not fatal.
        if let Err(e) = uri::write_stdlib(&stdlib_dir) {
            eprintln!("trainc lsp: cannot write the stdlib to {}: {e}", stdlib_dir.display());
        }
        let mut options = Options::default();
        options.check.skip_data = option("skipData").and_then(|v| v.as_bool()).unwrap_or(false);
        Server {
            encoding: if utf8 { Encoding::Utf8 } else { Encoding::Utf16 },
            options,
            stdlib_dir,
            overlay: Overlay { docs: BTreeMap::new(), disk: config.disk },
            versions: BTreeMap::new(),
            analyses: BTreeMap::new(),
            parsed: BTreeMap::new(),
            closed: Vec::new(),
            dirty: false,
        }
    }

    fn capabilities(&self) -> ServerCapabilities {
        ServerCapabilities {
            position_encoding: Some(match self.encoding {
                Encoding::Utf8 => PositionEncodingKind::UTF8,
                Encoding::Utf16 => PositionEncodingKind::UTF16,
            }),
            text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
            hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
            completion_provider: Some(CompletionOptions {
                trigger_characters: Some(vec![">".into(), ".".into(), "/".into(), "(".into(), " ".into()]),
                ..CompletionOptions::default()
            }),
            signature_help_provider: Some(SignatureHelpOptions {
                trigger_characters: Some(vec!["(".into(), ",".into()]),
                ..SignatureHelpOptions::default()
            }),
            definition_provider: Some(OneOf::Left(true)),
            references_provider: Some(OneOf::Left(true)),
            document_symbol_provider: Some(OneOf::Left(true)),
            document_formatting_provider: Some(OneOf::Left(true)),
            inlay_hint_provider: Some(OneOf::Left(true)),
            ..ServerCapabilities::default()
        }
    }

    fn run(&mut self, connection: &Connection) -> Result<(), String> {
        while let Ok(first) = connection.receiver.recv() {
            // Everything already queued is handled before checking again: one check per burst.
            let batch: Vec<Message> = std::iter::once(first).chain(connection.receiver.try_iter()).collect();
            for message in batch {
                match message {
                    Message::Request(request) => {
                        if connection.handle_shutdown(&request).map_err(|e| e.to_string())? {
                            return Ok(());
                        }
                        self.refresh(connection);
                        let response = self.guarded_request(request);
                        connection.sender.send(response.into()).map_err(|e| e.to_string())?;
                    }
                    Message::Notification(n) if n.method == "exit" => return Ok(()),
                    Message::Notification(n) => self.notification(n),
                    Message::Response(_) => {}
                }
            }
            self.refresh(connection);
        }
        Ok(())
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<DidOpenTextDocumentParams>(n.params) {
                    self.set_text(&p.text_document.uri, p.text_document.text, p.text_document.version);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<DidChangeTextDocumentParams>(n.params) {
                    self.change(p);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<DidCloseTextDocumentParams>(n.params)
                    && let Some(path) = uri::to_path(&p.text_document.uri)
                {
                    self.overlay.docs.remove(&path);
                    self.versions.remove(&path);
                    self.analyses.remove(&path);
                    self.parsed.remove(&path);
                    self.closed.push(p.text_document.uri);
                    self.dirty = true;
                }
            }
            // Saving changes nothing the overlay does not have, but files that are not open
            // may have changed on disk along with it.
            DidSaveTextDocument::METHOD => self.dirty = true,
            _ => {}
        }
    }

    fn set_text(&mut self, uri: &Uri, text: String, version: i32) {
        let Some(path) = uri::to_path(uri) else { return };
        self.overlay.docs.insert(path.clone(), text);
        self.versions.insert(path, version);
        self.dirty = true;
    }

    /// Applies changes in order: whole texts, or ranges in the negotiated encoding.
    fn change(&mut self, p: DidChangeTextDocumentParams) {
        let Some(path) = uri::to_path(&p.text_document.uri) else { return };
        let mut text = self.overlay.docs.get(&path).cloned().unwrap_or_default();
        for change in p.content_changes {
            match change.range {
                None => text = change.text,
                Some(range) => {
                    let lines = LineIndex::new(&text);
                    let start = lines.offset(&text, range.start, self.encoding);
                    let end = lines.offset(&text, range.end, self.encoding).max(start);
                    text.replace_range(start..end, &change.text);
                }
            }
        }
        self.set_text(&p.text_document.uri, text, p.text_document.version);
    }

    /// Re-checks every open document after a change and publishes their diagnostics.
    fn refresh(&mut self, connection: &Connection) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        for uri in std::mem::take(&mut self.closed) {
            publish(connection, PublishDiagnosticsParams { uri, diagnostics: Vec::new(), version: None });
        }
        let paths: Vec<PathBuf> = self.overlay.docs.keys().cloned().collect();
        for path in paths {
            let text = self.overlay.docs.get(&path).cloned().unwrap_or_default();
            let check = || Analysis::new(&self.overlay, &path, &text, &self.options, &self.stdlib_dir);
            // The front end is fuzzed not to panic; if it still does, this document goes
            // unchecked and the others are served.
            let Ok(analysis) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) else {
                eprintln!("trainc lsp: checking {} failed", path.display());
                continue;
            };
            let params = PublishDiagnosticsParams {
                uri: uri::from_path(&path),
                diagnostics: diagnostics::of_document(&analysis, self.encoding, |p| self.overlay.docs.contains_key(p)),
                version: self.versions.get(&path).copied(),
            };
            publish(connection, params);
            let old = self.analyses.insert(path.clone(), analysis);
            if self.analyses.get(&path).is_some_and(Analysis::parsed) {
                self.parsed.remove(&path);
            } else if let Some(old) = old.filter(Analysis::parsed) {
                self.parsed.insert(path, old);
            }
        }
    }

    /// A request's answer; a bug that panics answers an error instead of ending the session.
    fn guarded_request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let method = request.method.clone();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.request(request))).unwrap_or_else(|_| {
            Response::new_err(id, ErrorCode::InternalError as i32, format!("trainc lsp failed on `{method}`"))
        })
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => self.answer(request, hover::hover),
            InlayHintRequest::METHOD => self.answer(request, inlay::hints),
            Completion::METHOD => self.answer(request, completion::complete),
            SignatureHelpRequest::METHOD => self.answer(request, signature::help),
            GotoDefinition::METHOD => self.answer(request, navigation::definition),
            References::METHOD => self.answer(request, navigation::references),
            DocumentSymbolRequest::METHOD => self.answer(request, symbols::document_symbols),
            Formatting::METHOD => self.answer(request, Server::format),
            other => Err((ErrorCode::MethodNotFound, format!("trainc lsp does not handle `{other}`"))),
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn answer<P: DeserializeOwned, R: Serialize>(
        &self,
        request: Request,
        handler: impl FnOnce(&Server, P) -> R,
    ) -> Result<serde_json::Value, (ErrorCode, String)> {
        let params: P =
            serde_json::from_value(request.params).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))?;
        serde_json::to_value(handler(self, params)).map_err(|e| (ErrorCode::InternalError, e.to_string()))
    }

    /// The current analysis of a document.
    pub fn analysis(&self, uri: &Uri) -> Option<&Analysis> {
        self.analyses.get(&uri::to_path(uri)?)
    }

    /// The analysis to take names from: the current one if it parsed, else the last that did.
    pub fn names(&self, uri: &Uri) -> Option<&Analysis> {
        let path = uri::to_path(uri)?;
        self.parsed.get(&path).or_else(|| self.analyses.get(&path))
    }

    pub fn path_of(uri: &Uri) -> Option<PathBuf> {
        uri::to_path(uri)
    }

    /// Every current analysis, for references across documents.
    pub fn all(&self) -> impl Iterator<Item = (&Path, &Analysis)> {
        self.analyses.iter().map(|(p, a)| (p.as_path(), a))
    }

    fn format(&self, p: DocumentFormattingParams) -> Option<Vec<TextEdit>> {
        let analysis = self.analysis(&p.text_document.uri)?;
        let text = analysis.text(ROOT);
        let formatted = crate::fmt::format(text).ok()?;
        if formatted == text {
            return Some(Vec::new());
        }
        Some(vec![TextEdit {
            range: analysis.range(crate::syntax::span::Span::new(ROOT, 0, text.len()), self.encoding),
            new_text: formatted,
        }])
    }
}

fn publish(connection: &Connection, params: PublishDiagnosticsParams) {
    let note = Notification::new(PublishDiagnostics::METHOD.to_string(), params);
    // A client that went away is noticed by the loop's next receive.
    let _ = connection.sender.send(note.into());
}
