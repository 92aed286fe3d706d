//! `trainc fmt`: every `.train` in the repository is in the canonical layout; formatting is
//! idempotent, keeps every comment and every code token, and does not change what a file means
//! (the same resolved `train` spec, the same model graphs, the same diagnostics).
// Tests read the repository's files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use trainc::fmt::{code_tokens, comments, format};
use trainc::frontend;
use trainc::host::FsHost;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.train` file under the repository, found by walking it (other branches add files).
/// Left out: build and editor test output, and the TextMate grammar tests (`*.test.train`), whose
/// `^^^` assertions point at columns.
fn train_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | "node_modules" | ".git" | ".test-out") && !name.starts_with('.')
                {
                    walk(&path, out);
                }
            } else if name.ends_with(".train") && !name.ends_with(".test.train") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(root(), &mut out);
    out.sort();
    assert!(out.len() >= 100, "only {} .train files found", out.len());
    out
}

/// What a file means: the resolved spec, every model's nodes (path, layer, shape, parameters)
/// and every diagnostic's code and message (positions move, meanings do not).
fn meaning(path: &Path, text: &str) -> String {
    let relative = path.strip_prefix(root()).unwrap_or(path);
    let outcome =
        frontend::check_text(&FsHost, &root().join(relative).display().to_string(), text, &common::ui_options(text));
    let mut out = serde_json::to_string_pretty(&outcome.checked.train).expect("the spec serialises");
    for model in outcome.checked.models.values() {
        out.push_str(&trainc::summary::shape_table(model));
    }
    for d in &outcome.diags {
        out.push_str(&format!("\n{}: {}", d.code(), d.error));
    }
    out
}

#[test]
fn every_train_file_is_formatted() {
    let mut unformatted = Vec::new();
    let mut refused = Vec::new();
    for path in train_files() {
        let text = std::fs::read_to_string(&path).expect("readable");
        match format(&text) {
            Ok(formatted) if formatted != text => unformatted.push(path),
            Ok(_) => {}
            Err(_) => refused.push(path),
        }
    }
    assert!(unformatted.is_empty(), "run `trainc fmt` on: {unformatted:#?}");
    // Only UI tests (of syntax errors and parser limits) may not parse.
    for path in &refused {
        assert!(path.starts_with(root().join("tests/ui")), "{} does not parse", path.display());
    }
}

#[test]
fn formatting_twice_changes_nothing_and_keeps_the_meaning() {
    let mut count = 0;
    for path in train_files() {
        let text = std::fs::read_to_string(&path).expect("readable");
        // Start from a scrambled layout, so the test does not pass just because files are formatted.
        let scrambled = scramble(&text);
        let Ok(once) = format(&scrambled) else { continue };
        let twice = format(&once).expect("formatted text parses");
        let name = path.display();
        assert_eq!(once, twice, "{name}: formatting twice changed it");
        // One canonical layout: however it was scrambled, a formatted file comes back as it was.
        if format(&text).is_ok_and(|f| f == text) {
            assert_eq!(once, text, "{name}: the scrambled file formats differently");
        }
        assert_eq!(comments(&text), comments(&once), "{name}: comments changed");
        assert_eq!(code_tokens(&text), code_tokens(&once), "{name}: code changed");
        assert_eq!(meaning(&path, &text), meaning(&path, &once), "{name}: the meaning changed");
        count += 1;
    }
    assert!(count >= 100, "only {count} files formatted");
}

/// The same tokens in a worse layout: indentation gone, spaces doubled, blank lines tripled,
/// trailing spaces added. Comments and strings are left alone.
fn scramble(text: &str) -> String {
    let mut out = String::new();
    let mut in_block = false;
    for line in text.lines() {
        let was_in_block = in_block;
        in_block = (in_block || line.contains("/*")) && !line.contains("*/");
        if was_in_block {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let line = line.trim_start();
        if line.starts_with("//") || line.contains('"') || line.contains("/*") || line.contains("*/") {
            out.push_str(line);
        } else {
            let (code, comment) = line.split_at(line.find("//").unwrap_or(line.len()));
            out.push_str(&code.replace(" = ", "  =   ").replace(", ", " ,"));
            out.push_str(comment);
        }
        out.push_str(if in_block {
            "\n"
        } else if line.is_empty() {
            "\n\n\n"
        } else {
            "   \n"
        });
    }
    out
}

#[test]
fn comments_survive_in_every_position() {
    let text = "// args: --skip-data\n\
        /* header\n   block */\n\
        use std/backbones.{ // which ones\n  resnet18, /* this */ stem\n}\n\n\n\n\
        model m(x: Image[B, 3, 32, 32] /* input */, out: int = 10) -> Logits[B, 10] { // body\n\
        h = x |> stem // the stem\n\
        // a pipe split over lines\n\
        |> conv2d(8, // out\n k = 3)\n\
        |> flatten |> linear(out) ;\n\
        return h // end\n\
        // before the brace\n\
        }\n\
        train{model=m;data=d{batch=-1 , };epochs=-2 // negative on purpose\n\
        optimizer=sgd(lr=1e-3,momentum=0.9,)}\n\
        // the end";
    let once = format(text).expect("parses");
    assert_eq!(comments(text), comments(&once));
    assert_eq!(code_tokens(text), code_tokens(&once));
    assert_eq!(format(&once).expect("parses"), once);
    insta::assert_snapshot!(once);
}

#[test]
fn syntax_errors_are_refused() {
    assert!(format("model m(x: [B]) { return x").is_err());
}

#[test]
fn fmt_check_passes_on_the_repository_and_fails_on_a_messy_file() {
    let files = train_files();
    let parsing: Vec<&PathBuf> =
        files.iter().filter(|p| format(&std::fs::read_to_string(p).expect("readable")).is_ok()).collect();
    let out = Command::new(common::bin()).arg("fmt").arg("--check").args(&parsing).output().expect("runs");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    let dir = common::scratch("fmt");
    let messy = dir.join("messy.train");
    std::fs::write(&messy, "augment a{hflip;normalize(imagenet);}\n").expect("written");
    let out = Command::new(common::bin()).arg("fmt").arg("--check").arg(&messy).output().expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("messy.train"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("trainc::cli::unformatted"));
    let out = Command::new(common::bin()).arg("fmt").arg(&messy).output().expect("runs");
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&messy).expect("readable"), "augment a { hflip; normalize(imagenet) }\n");
    std::fs::write(&messy, "model m(x: [B]) {").expect("written");
    let out = Command::new(common::bin()).arg("fmt").arg(&messy).output().expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("trainc::syntax::unexpected"));
}
