//! `tests/ui/*.train`: invalid programs, each with an insta snapshot of the report a user sees.
//!
//! A file may start with `// args: …` giving command-line arguments (overrides, `--profile P`,
//! `--skip-data`). Every file must produce at least one error, and together the files must cover
//! every diagnostic code declared in `src/**/error.rs`.
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use trainc::frontend;
use trainc::host::FsHost;

fn run(path: &Path) -> (String, Vec<String>, bool) {
    let text = std::fs::read_to_string(path).expect("ui file is readable");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let relative = path.strip_prefix(root).unwrap_or(path);
    // Check from the crate root so file names in reports are stable.
    std::env::set_current_dir(root).expect("crate root exists");
    let outcome = frontend::check_file(&FsHost, relative, &common::ui_options(&text));
    let codes = outcome.diags.iter().map(|d| d.code()).collect();
    (outcome.render(false), codes, outcome.has_errors())
}

#[test]
fn ui_reports() {
    insta::glob!("ui/*.train", |path| {
        let (report, _, has_errors) = run(path);
        assert!(has_errors, "{} is in tests/ui but checks without errors", path.display());
        insta::assert_snapshot!(report);
    });
}

#[test]
fn ui_files_cover_every_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut declared = BTreeSet::new();
    for file in ["src/syntax/error.rs", "src/resolve/error.rs", "src/check/error.rs"] {
        let text = std::fs::read_to_string(root.join(file)).expect("error file exists");
        for part in text.split("code(").skip(1) {
            if let Some(code) = part.split([')', ',']).next() {
                declared.insert(code.trim().to_string());
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut entries: Vec<_> =
        std::fs::read_dir(root.join("tests/ui")).expect("tests/ui exists").flatten().map(|e| e.path()).collect();
    entries.sort();
    let mut count = 0;
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "train")) {
        count += 1;
        seen.extend(run(path).1);
    }
    let missing: Vec<_> = declared.difference(&seen).collect();
    assert!(missing.is_empty(), "codes without a ui test: {missing:?}");
    assert!(count >= 60, "only {count} ui files");
}

/// A line of 5,000 statements (75,000 columns) with an error at its end: miette panics on label
/// columns past 65,535, so the report names the position without drawing the line.
#[test]
fn an_error_on_a_very_long_line_is_reported_without_its_snippet() {
    let body = "h = h |> relu; ".repeat(5000);
    let text = format!(
        "model m(x: Image[B, 1, 28, 28]) -> Logits[B, 10] {{\n  h = x; {body}h = h |> foo\n  return h |> flatten |> linear(10)\n}}\n"
    );
    let outcome = frontend::check_text(&FsHost, "long.train", &text, &common::ui_options("// args: --skip-data"));
    assert_eq!(outcome.diags.iter().map(|d| d.code()).collect::<Vec<_>>(), ["trainc::name::unknown"]);
    insta::assert_snapshot!(outcome.render(false), @r"
    trainc::name::unknown

      × unknown layer or block `foo`
      help: see `trainc builtins` for the layers
      at long.train:2:75019 (the line is too long to show)
    ");
}
