//! `trainc lsp`: the language server over stdin and stdout (see `trainc::lsp`).

use std::process::ExitCode;

use trainc::host::FsHost;
use trainc::lsp::{Config, serve};

use super::CommandError;

pub fn lsp() -> Result<ExitCode, CommandError> {
    let (connection, io) = lsp_server::Connection::stdio();
    serve(&connection, Config { disk: Box::new(FsHost), stdlib_dir: None })
        .map_err(|message| CommandError::Lsp { message })?;
    drop(connection);
    io.join().map_err(|e| CommandError::Lsp { message: e.to_string() })?;
    Ok(ExitCode::SUCCESS)
}
