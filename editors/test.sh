#!/usr/bin/env bash
# Tests the editor support in editors/:
#   vscode       TextMate grammar unit tests (vscode-tmgrammar-test over vscode/tests/*.test.train),
#                every examples/*.train and stdlib/*.train tokenizes cleanly, the extension starts
#                `trainc lsp` with its settings (vscode/tests/extension.js), and the .vsix packages
#   vim          headless Vim: filetype detection, ftplugin settings, syntax groups and indentation
#   tree-sitter  grammar/query consistency (always), then `tree-sitter generate && tree-sitter test`
#                and a parse of every example with no ERROR node (only when the CLI is on PATH)
#
# Usage: editors/test.sh            (from anywhere; needs node/npm and vim)
# The builtin lists themselves are checked against src/check/builtins.rs by `cargo test --test editors`.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$here/.test-out"
rm -rf "$out" && mkdir -p "$out"

passed=0
failed=0
skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip() { echo "SKIP $1"; skipped=$((skipped + 1)); }
# run NAME CMD...: runs a step, shows its output indented, and records the result.
run() {
  local name="$1"; shift
  echo "── $name"
  if "$@" > "$out/log" 2>&1; then
    sed 's/^/   /' "$out/log" | grep -v 'npm warn' ; pass "$name"
  else
    sed 's/^/   /' "$out/log" | grep -v 'npm warn' ; fail "$name"
  fi
}

shopt -s nullglob
sources=("$root"/examples/*.train "$root"/stdlib/*.train)

# ── VS Code ──────────────────────────────────────────────────────────────────────────────
if command -v node > /dev/null && command -v npm > /dev/null; then
  cd "$here/vscode"
  if [ ! -x node_modules/.bin/vscode-tmgrammar-test ] || [ ! -x node_modules/.bin/vsce ] \
    || [ ! -d node_modules/vscode-languageclient ]; then
    run "vscode: npm install" npm install --no-audit --no-fund
  fi
  run "vscode: grammar unit tests (tests/*.test.train)" \
    npx --no-install vscode-tmgrammar-test -g syntaxes/trainc.tmLanguage.json 'tests/*.test.train'

  # Every example and stdlib file, as a grammar test file with a header and no assertions:
  # vscode-tmgrammar-test must load and tokenize each one.
  mkdir -p "$out/sources"
  for f in "${sources[@]}"; do
    name="$(basename "$(dirname "$f")")_$(basename "$f" .train)"
    { echo '// SYNTAX TEST "source.trainc" "'"${f#"$root"/}"'"'; cat "$f"; } > "$out/sources/$name.test.train"
  done
  run "vscode: examples and stdlib load as grammar tests" \
    npx --no-install vscode-tmgrammar-test -g syntaxes/trainc.tmLanguage.json "$out/sources/*.test.train"
  # ...and tokenize cleanly: no invalid scope, no region left open, item keywords highlighted.
  run "vscode: examples and stdlib tokenize cleanly" node tests/tokenize.js "${sources[@]}"

  run "vscode: the extension starts \`trainc lsp\` (tests/extension.js)" node tests/extension.js

  run "vscode: package the .vsix (vsce package)" \
    npx --no-install vsce package --out "$out/trainc.vsix"
  cd "$here"
else
  skip "vscode: node and npm are not on PATH"
fi

# ── Vim ──────────────────────────────────────────────────────────────────────────────────
if command -v vim > /dev/null; then
  cd "$root"
  run "vim: syntax, ftdetect, ftplugin and indent (editors/vim/test/syntax_test.vim)" \
    vim -u NONE -N -es -i NONE -c 'source editors/vim/test/syntax_test.vim'
  cd "$here"
else
  skip "vim: vim is not on PATH (apt-get install -y vim)"
fi

# ── tree-sitter ──────────────────────────────────────────────────────────────────────────
cd "$here/tree-sitter-trainc"
if command -v node > /dev/null; then
  run "tree-sitter: grammar.js rules and query names (test/check-queries.js)" node test/check-queries.js
fi
if command -v tree-sitter > /dev/null; then
  run "tree-sitter: generate" tree-sitter generate
  run "tree-sitter: corpus tests (test/corpus/*.txt)" tree-sitter test
  parse_all() {
    local status=0 f tree
    for f in "${sources[@]}"; do
      tree="$(tree-sitter parse "$f" 2>&1)"
      if grep -qE '\((ERROR|MISSING)' <<< "$tree"; then
        echo "error nodes in ${f#"$root"/}:"
        grep -nE '\((ERROR|MISSING)' <<< "$tree" | head -5
        status=1
      else
        echo "ok   ${f#"$root"/}"
      fi
    done
    return $status
  }
  run "tree-sitter: examples and stdlib parse without ERROR nodes" parse_all
else
  skip "tree-sitter: the tree-sitter CLI is not on PATH (cargo install tree-sitter-cli --locked)"
fi
cd "$here"

echo
echo "editors: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
