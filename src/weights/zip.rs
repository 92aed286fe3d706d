//! Just enough of the zip format to find one member of a `torch.save` archive and read it:
//! the end-of-central-directory record (ZIP64 too, for archives over 4 GiB), the central
//! directory, and one local header. Every offset is checked against the file's length before
//! it is read, so a corrupt archive is reported as truncated instead of read past its end.

use std::path::Path;

use super::header::{HeaderError, read_bytes};
use crate::host::Host;

/// One member of the archive, as the central directory describes it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    /// 0 = stored, 8 = deflate.
    pub method: u16,
    pub compressed: u64,
    pub size: u64,
    local_offset: u64,
}

const EOCD: u32 = 0x0605_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const ZIP64_EOCD: u32 = 0x0606_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const LOCAL: u32 = 0x0403_4b50;

/// `n` little-endian bytes at `at`, or `None` past the end.
pub fn le(bytes: &[u8], at: usize, n: usize) -> Option<u64> {
    let slice = bytes.get(at..at.checked_add(n)?)?;
    Some(slice.iter().rev().fold(0, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Where the central directory lies: `(offset, size)`.
fn directory_span(host: &dyn Host, path: &Path, len: u64) -> Result<(u64, u64), HeaderError> {
    // The record is 22 bytes plus a comment of at most 65535; the ZIP64 locator precedes it.
    let tail_len = len.min(22 + 65535 + 20);
    let tail = read_bytes(host, path, len, len - tail_len, tail_len)?;
    let not_zip = || HeaderError::NotAZip { file: path.to_path_buf() };
    let at = (0..tail.len().saturating_sub(21)).rev().find(|&i| le(&tail, i, 4) == Some(u64::from(EOCD)));
    let at = at.ok_or_else(not_zip)?;
    let (size, offset) = (le(&tail, at + 12, 4).ok_or_else(not_zip)?, le(&tail, at + 16, 4).ok_or_else(not_zip)?);
    if size != 0xFFFF_FFFF && offset != 0xFFFF_FFFF {
        return Ok((offset, size));
    }
    // ZIP64: the locator names the offset of the 64-bit record.
    let locator = at.checked_sub(20).filter(|&l| le(&tail, l, 4) == Some(u64::from(ZIP64_LOCATOR)));
    let record_at = locator.and_then(|l| le(&tail, l + 8, 8)).ok_or_else(not_zip)?;
    let record = read_bytes(host, path, len, record_at, 56)?;
    if le(&record, 0, 4) != Some(u64::from(ZIP64_EOCD)) {
        return Err(not_zip());
    }
    Ok((le(&record, 48, 8).ok_or_else(not_zip)?, le(&record, 40, 8).ok_or_else(not_zip)?))
}

/// Every member of the archive at `path` (`len` bytes long).
pub fn entries(host: &dyn Host, path: &Path, len: u64) -> Result<Vec<Entry>, HeaderError> {
    let (offset, size) = directory_span(host, path, len)?;
    let dir = read_bytes(host, path, len, offset, size)?;
    let mut out = Vec::new();
    let mut at = 0;
    while le(&dir, at, 4) == Some(u64::from(CENTRAL)) {
        let (entry, next) = central_entry(&dir, at).ok_or_else(|| HeaderError::Truncated {
            file: path.to_path_buf(),
            what: "the zip central directory".into(),
        })?;
        out.push(entry);
        at = next;
    }
    Ok(out)
}

/// The central-directory entry at `at`, and where the next one starts.
fn central_entry(dir: &[u8], at: usize) -> Option<(Entry, usize)> {
    let field = |offset: usize, n: usize| le(dir, at + offset, n);
    let (name_len, extra_len, comment_len) = (field(28, 2)? as usize, field(30, 2)? as usize, field(32, 2)? as usize);
    let name = dir.get(at + 46..at + 46 + name_len)?;
    let extra = dir.get(at + 46 + name_len..at + 46 + name_len + extra_len)?;
    let mut entry = Entry {
        name: String::from_utf8_lossy(name).into_owned(),
        method: field(10, 2)? as u16,
        compressed: field(20, 4)?,
        size: field(24, 4)?,
        local_offset: field(42, 4)?,
    };
    apply_zip64_extra(&mut entry, extra)?;
    Some((entry, at + 46 + name_len + extra_len + comment_len))
}

/// A ZIP64 extra field (id 1) holds, in this order, those of size, compressed size and local
/// offset that did not fit in 32 bits.
fn apply_zip64_extra(entry: &mut Entry, extra: &[u8]) -> Option<()> {
    let mut at = 0;
    while at + 4 <= extra.len() {
        let (id, len) = (le(extra, at, 2)?, le(extra, at + 2, 2)? as usize);
        if id == 1 {
            let mut field = at + 4;
            for value in [&mut entry.size, &mut entry.compressed, &mut entry.local_offset] {
                if *value == 0xFFFF_FFFF {
                    *value = le(extra, field, 8)?;
                    field += 8;
                }
            }
        }
        at += 4 + len;
    }
    Some(())
}

/// The bytes of one member, inflated when it is compressed.
pub fn read_entry(host: &dyn Host, path: &Path, len: u64, entry: &Entry) -> Result<Vec<u8>, HeaderError> {
    let truncated =
        || HeaderError::Truncated { file: path.to_path_buf(), what: format!("zip member `{}`", entry.name) };
    let local = read_bytes(host, path, len, entry.local_offset, 30)?;
    if le(&local, 0, 4) != Some(u64::from(LOCAL)) {
        return Err(truncated());
    }
    let skip = 30 + le(&local, 26, 2).ok_or_else(truncated)? + le(&local, 28, 2).ok_or_else(truncated)?;
    let data = read_bytes(host, path, len, entry.local_offset + skip, entry.compressed)?;
    match entry.method {
        0 => Ok(data),
        8 => inflate(&data, entry.size).ok_or_else(truncated),
        method => Err(HeaderError::Compression { file: path.to_path_buf(), member: entry.name.clone(), method }),
    }
}

/// Raw deflate, refusing output larger than the directory announced (a zip bomb).
fn inflate(data: &[u8], size: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data).take(size + 1).read_to_end(&mut out).ok()?;
    (out.len() as u64 == size).then_some(out)
}
