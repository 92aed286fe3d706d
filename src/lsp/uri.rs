//! File paths ↔ `file://` URIs, and the stdlib served as read-only files.
//!
//! The stdlib lives in the binary; the server writes a read-only copy of each module to a cache
//! folder (`$XDG_CACHE_HOME/trainc/stdlib-VERSION`, or `initializationOptions.stdlibDir`) so
//! "go to definition" into `std/backbones` opens a real file in any editor, with no custom URI
//! scheme for each editor to learn. A module opened from there is checked like any other file.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use lsp_types::Uri;

use crate::resolve::stdlib;

/// The `file://` URI of an absolute path, percent-encoding what URIs do not allow.
pub fn from_path(path: &Path) -> Uri {
    let mut out = String::from("file://");
    let text = path.to_string_lossy();
    if !text.starts_with('/') {
        out.push('/');
    }
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    // Every byte above is allowed in a URI, so parsing cannot fail.
    Uri::from_str(&out).unwrap_or_else(|_| unreachable!("an encoded path is a valid URI"))
}

/// The path of a `file://` URI; `None` for other schemes.
pub fn to_path(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    // `file://host/path` is not something editors send for local files; keep the path part.
    let rest = &rest[rest.find('/')?..];
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%').then(|| rest.get(i + 1..i + 3)).flatten();
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    let path = String::from_utf8(out).ok()?;
    // Windows clients send `/C:/…`.
    let path = if path.get(2..3) == Some(":") { path[1..].to_string() } else { path };
    Some(PathBuf::from(path))
}

/// Where the read-only stdlib copies go when the client does not say.
pub fn default_stdlib_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("trainc").join(format!("stdlib-{}", env!("CARGO_PKG_VERSION")))
}

/// The file a stdlib module is served from: `std/backbones` → `DIR/backbones.train`.
pub fn stdlib_path(dir: &Path, module: &str) -> PathBuf {
    dir.join(format!("{}.train", module.trim_start_matches("std/")))
}

/// Writes every stdlib module to `dir`, read-only, unless an identical copy is there.
pub fn write_stdlib(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in stdlib::MODULES {
        let path = stdlib_path(dir, name);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == *text) {
            continue;
        }
        if let Ok(meta) = std::fs::metadata(&path) {
            let mut perms = meta.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&path, perms)?;
        }
        std::fs::write(&path, text)?;
        let mut perms = std::fs::metadata(&path)?.permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(&path, perms)?;
    }
    Ok(())
}
