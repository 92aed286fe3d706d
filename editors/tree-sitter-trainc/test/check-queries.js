#!/usr/bin/env node
// Checks grammar.js and the queries without the tree-sitter CLI: loads grammar.js with a
// stand-in for tree-sitter's DSL, checks every `$.rule` it uses is defined, and checks every
// node name, field name and literal the queries use exists in the grammar. (`tree-sitter
// generate` and `tree-sitter test` check much more; this catches typos where the CLI is absent.)
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const literals = new Set();
const fields = new Set();
const aliases = new Set();
const referenced = new Set();

const walk = (rule) => {
  if (typeof rule === 'string') literals.add(rule);
  return rule;
};
const node = (type, extra) => Object.assign({ type }, extra);
global.seq = (...members) => node('seq', { members: members.map(walk) });
global.choice = (...members) => node('choice', { members: members.map(walk) });
global.repeat = (r) => node('repeat', { content: walk(r) });
global.repeat1 = (r) => node('repeat1', { content: walk(r) });
global.optional = (r) => node('optional', { content: walk(r) });
global.field = (name, r) => {
  fields.add(name);
  return node('field', { name, content: walk(r) });
};
global.alias = (r, to) => {
  if (to && to.symbol) aliases.add(to.symbol);
  else if (typeof to === 'string') literals.add(to);
  return node('alias', { content: walk(r) });
};
const precFn = (v, r) => node('prec', { value: v, content: walk(r) });
precFn.left = precFn;
precFn.right = precFn;
precFn.dynamic = precFn;
global.prec = precFn;
global.token = (r) => node('token', { content: r });
global.token.immediate = (r) => node('immediate', { content: r });
global.grammar = (spec) => spec;

const spec = require(path.join(root, 'grammar.js'));
const $ = new Proxy({}, {
  get: (_, name) => {
    referenced.add(name);
    return { symbol: name };
  },
});
const rules = new Set(Object.keys(spec.rules));
for (const key of ['extras', 'word', 'conflicts', 'inline', 'supertypes', 'externals']) {
  if (typeof spec[key] === 'function') spec[key]($);
}
for (const name of rules) spec.rules[name]($);

const problems = [];
for (const name of referenced) {
  if (!rules.has(name) && !aliases.has(name)) problems.push(`grammar.js: $.${name} is not a rule`);
}
const named = new Set([...rules].filter((r) => !r.startsWith('_')).concat([...aliases]));

for (const file of fs.readdirSync(path.join(root, 'queries'))) {
  if (!file.endsWith('.scm')) continue;
  const text = fs.readFileSync(path.join(root, 'queries', file), 'utf8')
    .split('\n').map((l) => l.replace(/^\s*;.*$/, '')).join('\n');
  let depth = 0;
  for (const ch of text.replace(/"(\\.|[^"\\])*"/g, '""')) {
    if (ch === '(' || ch === '[') depth += 1;
    if (ch === ')' || ch === ']') depth -= 1;
    if (depth < 0) break;
  }
  if (depth !== 0) problems.push(`queries/${file}: unbalanced brackets`);
  for (const m of text.matchAll(/\((?!#)([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (m[1] !== '_' && !named.has(m[1])) problems.push(`queries/${file}: no node named (${m[1]})`);
  }
  for (const m of text.matchAll(/([A-Za-z_][A-Za-z0-9_]*):\s/g)) {
    if (!fields.has(m[1])) problems.push(`queries/${file}: no field named ${m[1]}:`);
  }
  // Literals outside predicates: `"then" @keyword`, `["int" "float"] @type`.
  const outside = text.replace(/\(#[^)]*\)/g, '');
  for (const m of outside.matchAll(/"((?:\\.|[^"\\])*)"/g)) {
    const lit = m[1].replace(/\\(.)/g, '$1');
    if (!literals.has(lit)) problems.push(`queries/${file}: no literal "${lit}" in the grammar`);
  }
}

problems.forEach((p) => console.log(`FAIL ${p}`));
console.log(`tree-sitter grammar and queries: ${problems.length ? 0 : 1} passed, ${problems.length ? 1 : 0} failed`);
process.exit(problems.length ? 1 : 0);
