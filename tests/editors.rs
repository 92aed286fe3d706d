//! The editor grammars in `editors/` against `src/check/builtins.rs`, the single source of truth:
//! every builtin, keyword, constant, type, key, augment target, symbol and argument word the
//! checker knows must appear in the VS Code TextMate grammar, the Vim syntax file and the
//! tree-sitter highlight queries, and each builtin must be highlighted as its own kind. Adding a
//! builtin to the checker without updating the highlighters fails here.
//!
//! The highlighters' own behaviour is tested by `editors/test.sh`.
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use trainc::check::builtins::{self, BUILTINS, Kind};

const VSCODE: &str = "vscode/syntaxes/trainc.tmLanguage.json";
const VIM: &str = "vim/syntax/trainc.vim";
const TREE_SITTER: &str = "tree-sitter-trainc/queries/highlights.scm";

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("editors").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The identifier-like words of `text`. A backslash and the character after it are dropped
/// first, so regex escapes (`\b`, `\s`, Vim's `\<` and `\|`) never glue onto a name.
fn words(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut word = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.insert(std::mem::take(&mut word));
        }
        if c == '\\' {
            let _ = chars.next();
        }
    }
    if !word.is_empty() {
        out.insert(word);
    }
    out
}

/// Every string (keys included) in a JSON document, one per line.
fn json_strings(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => {
            for item in items {
                json_strings(item, out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                out.push_str(key);
                out.push('\n');
                json_strings(item, out);
            }
        }
        _ => {}
    }
}

fn tm_grammar() -> Value {
    serde_json::from_str(&read(VSCODE)).unwrap_or_else(|e| panic!("editors/{VSCODE} is not valid JSON: {e}"))
}

/// Every name the checker knows, with what it is (for the failure message).
fn vocabulary() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&'static str, &'static str)> = BUILTINS.iter().map(|b| (b.kind.noun(), b.name)).collect();
    let lists: [(&'static str, &'static [&'static str]); 17] = [
        ("keyword", builtins::KEYWORDS),
        ("constant", builtins::CONSTANTS),
        ("type", builtins::TYPES),
        ("train key", builtins::TRAIN_KEYS),
        ("data key", builtins::DATA_KEYS),
        ("checkpoint key", builtins::CHECKPOINT_KEYS),
        ("early_stop key", builtins::EARLY_STOP_KEYS),
        ("ema key", builtins::EMA_KEYS),
        ("dataset key", builtins::DATASET_KEYS),
        ("augment target", builtins::AUGMENT_TARGETS),
        ("symbol", builtins::SYMBOLS),
        ("interpolation word", builtins::INTERP),
        ("mode word", builtins::MODES),
        ("normalize preset", builtins::NORM_PRESETS),
        ("padding word", builtins::PADDING_WORDS),
        ("weights naming", builtins::WEIGHT_NAMES),
        ("precision word", builtins::PRECISIONS),
    ];
    for (what, list) in lists {
        for word in list {
            all.push((what, *word));
        }
    }
    all
}

fn assert_knows_everything(editor: &str, file: &str, known: &BTreeSet<String>) {
    let missing: Vec<String> = vocabulary()
        .into_iter()
        .filter(|(_, word)| !known.contains(*word))
        .map(|(what, word)| format!("{what} `{word}`"))
        .collect();
    assert!(
        missing.is_empty(),
        "the {editor} (editors/{file}) does not know: {}\nadd them next to the others of their kind",
        missing.join(", ")
    );
}

/// Where each kind of builtin lives in each editor: the TextMate repository entry, the Vim
/// syntax group, and the last part of the tree-sitter capture `@function.builtin.<kind>`.
fn editor_names(kind: Kind) -> (&'static str, &'static str, &'static str) {
    match kind {
        Kind::Layer => ("layers", "traincLayer", "layer"),
        Kind::Loss => ("losses", "traincLoss", "loss"),
        Kind::Optimizer => ("optimizers", "traincOptimizer", "optimizer"),
        Kind::Schedule => ("schedules", "traincSchedule", "schedule"),
        Kind::Augment => ("augmentations", "traincAugment", "augment"),
        Kind::Source => ("sources", "traincSource", "source"),
        Kind::Metric => ("metrics", "traincMetric", "metric"),
        Kind::Weights => ("weights", "traincWeights", "weights"),
        Kind::Param => ("params", "traincParam", "param"),
        Kind::Logger => ("loggers", "traincLogger", "logger"),
    }
}

fn names_of(kind: Kind) -> BTreeSet<String> {
    builtins::names(kind).map(String::from).collect()
}

fn missing_from(expected: &BTreeSet<String>, found: &BTreeSet<String>) -> Vec<String> {
    expected.difference(found).cloned().collect()
}

#[test]
fn vscode_grammar_knows_every_name() {
    let mut text = String::new();
    json_strings(&tm_grammar(), &mut text);
    assert_knows_everything("VS Code grammar", VSCODE, &words(&text));
}

#[test]
fn vim_syntax_knows_every_name() {
    assert_knows_everything("Vim syntax", VIM, &words(&read(VIM)));
}

#[test]
fn tree_sitter_highlights_know_every_name() {
    assert_knows_everything("tree-sitter highlight query", TREE_SITTER, &words(&read(TREE_SITTER)));
}

#[test]
fn vscode_grammar_scopes_each_kind_exactly() {
    let grammar = tm_grammar();
    assert_eq!(grammar["scopeName"], "source.trainc");
    for kind in Kind::ALL {
        let (entry, _, capture) = editor_names(kind);
        let rule = &grammar["repository"][entry];
        assert_eq!(
            rule["name"].as_str(),
            Some(format!("support.function.{capture}.trainc").as_str()),
            "editors/{VSCODE}: repository entry `{entry}` should scope {}s",
            kind.noun()
        );
        let pattern = rule["match"]
            .as_str()
            .unwrap_or_else(|| panic!("editors/{VSCODE}: repository entry `{entry}` has no `match`"));
        // `\b(a|b|c)\b`: the words between the word boundaries are exactly this kind's names.
        let found = words(pattern);
        let expected = names_of(kind);
        let missing = missing_from(&expected, &found);
        let stale = missing_from(&found, &expected);
        assert!(
            missing.is_empty() && stale.is_empty(),
            "editors/{VSCODE}: `{entry}` lacks {missing:?} and has {stale:?}, which are not {}s",
            kind.noun()
        );
    }
}

#[test]
fn vim_syntax_groups_each_kind() {
    let text = read(VIM);
    for kind in Kind::ALL {
        let (_, group, _) = editor_names(kind);
        let mut found = BTreeSet::new();
        for line in text.lines() {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            if tokens.len() > 3
                && tokens[0] == "syn"
                && (tokens[1] == "keyword" || tokens[1] == "match")
                && tokens[2] == group
            {
                found.extend(words(&tokens[3..].join(" ")));
            }
        }
        let missing = missing_from(&names_of(kind), &found);
        assert!(missing.is_empty(), "editors/{VIM}: syntax group {group} lacks the {}s {missing:?}", kind.noun());
    }
}

#[test]
fn tree_sitter_highlights_capture_each_kind() {
    let text = read(TREE_SITTER);
    for kind in Kind::ALL {
        let (_, _, capture) = editor_names(kind);
        let capture = format!("@function.builtin.{capture}");
        // Patterns are separated by blank lines; collect the names of those with this capture.
        let mut found = BTreeSet::new();
        for pattern in text.split("\n\n") {
            if pattern.contains(&capture) {
                found.extend(words(pattern));
            }
        }
        let missing = missing_from(&names_of(kind), &found);
        assert!(
            missing.is_empty(),
            "editors/{TREE_SITTER}: no {capture} pattern names the {}s {missing:?}",
            kind.noun()
        );
    }
}

#[test]
fn vscode_extension_declares_the_language() {
    let manifest: Value =
        serde_json::from_str(&read("vscode/package.json")).expect("editors/vscode/package.json is JSON");
    let language = &manifest["contributes"]["languages"][0];
    assert_eq!(language["id"], "trainc");
    assert_eq!(language["extensions"][0], ".train");
    let grammar = &manifest["contributes"]["grammars"][0];
    assert_eq!(grammar["scopeName"], "source.trainc");
    let path = grammar["path"].as_str().expect("the grammar has a path");
    assert_eq!(path.trim_start_matches("./"), VSCODE.trim_start_matches("vscode/"));
}
