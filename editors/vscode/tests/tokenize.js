#!/usr/bin/env node
// Tokenizes .train files with the TextMate grammar (the same engine VS Code uses) and fails if
// any token is scoped `invalid.*`, if a file ends inside an unclosed region (a brace, string or
// comment the grammar never saw close), or if an item keyword at the start of a line is not
// highlighted as a keyword.
//
//   node tests/tokenize.js FILE...          check files
//   node tests/tokenize.js --dump FILE...   also print every token with its scopes
'use strict';
const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const grammarPath = path.join(__dirname, '..', 'syntaxes', 'trainc.tmLanguage.json');
const wasm = fs.readFileSync(path.join(path.dirname(require.resolve('vscode-oniguruma')), 'onig.wasm')).buffer;

const ITEM = /^(use|dataset|augment|model|block|train|profile)\b/;

async function main() {
  const args = process.argv.slice(2);
  const dump = args[0] === '--dump';
  const files = dump ? args.slice(1) : args;
  if (files.length === 0) {
    console.error('usage: tokenize.js [--dump] FILE...');
    process.exit(2);
  }
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) =>
      scopeName === 'source.trainc'
        ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath)
        : null,
  });
  const grammar = await registry.loadGrammar('source.trainc');
  let failures = 0;
  for (const file of files) {
    const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
    let stack = vsctm.INITIAL;
    const problems = [];
    lines.forEach((line, i) => {
      const result = grammar.tokenizeLine(line, stack);
      for (const t of result.tokens) {
        const text = line.slice(t.startIndex, t.endIndex);
        if (dump && text.trim()) {
          console.log(`${i + 1}:${t.startIndex + 1}\t${JSON.stringify(text)}\t${t.scopes.slice(1).join(' ')}`);
        }
        if (t.scopes.some((s) => s.startsWith('invalid'))) {
          problems.push(`${file}:${i + 1}:${t.startIndex + 1}: ${JSON.stringify(text)} is ${t.scopes.join(' ')}`);
        }
        if (t.startIndex === 0 && ITEM.test(line)) {
          const kw = line.match(ITEM)[1];
          const scope = t.scopes[t.scopes.length - 1];
          const ok = kw === 'use' ? scope === 'keyword.control.import.trainc' : scope === `keyword.declaration.${kw}.trainc`;
          if (!ok) problems.push(`${file}:${i + 1}:1: item keyword \`${kw}\` is ${scope}`);
        }
      }
      stack = result.ruleStack;
    });
    if (stack.depth !== 1) {
      problems.push(`${file}: ends inside an unclosed region (depth ${stack.depth})`);
    }
    if (problems.length) {
      failures += 1;
      problems.forEach((p) => console.log(`FAIL ${p}`));
    } else {
      console.log(`ok   ${file}`);
    }
  }
  console.log(`${files.length - failures} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
