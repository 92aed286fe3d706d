//! Parse, resolve and check arbitrary text (and an arbitrary override): never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trainc::frontend::{self, Options};
use trainc::host::MemHost;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line, when it looks like `key=value`, is also tried as a command-line override.
    let mut options = Options::default();
    if let Some(first) = text.lines().next().filter(|l| l.contains('=') && l.len() < 80) {
        options.resolve.overrides.push(first.to_string());
    }
    let host = MemHost::new();
    let outcome = frontend::check_text(&host, "fuzz.train", text, &options);
    // Rendering walks every label: it must not panic either.
    let _ = outcome.render(false);
});
