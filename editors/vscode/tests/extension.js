// The extension starts `trainc lsp` with the configured binary for trainc files, passes the
// settings on, and restarts on a settings change. `vscode` and the language client are stubbed;
// the real client must still resolve, or the packaged extension would not load.
'use strict';

const assert = require('assert');
const Module = require('module');
const path = require('path');

require.resolve('vscode-languageclient/node');
const pkg = require('../package.json');
assert.strictEqual(pkg.main, './extension.js');
assert.strictEqual(pkg.contributes.configuration.properties['trainc.server.path'].default, 'trainc');

const events = [];
let onConfig;
const settings = { 'server.path': '/opt/trainc/bin/trainc', 'server.skipData': true };
const vscode = {
  workspace: {
    getConfiguration: (section) => {
      assert.strictEqual(section, 'trainc');
      return { get: (key, fallback) => (key in settings ? settings[key] : fallback) };
    },
    onDidChangeConfiguration: (f) => {
      onConfig = f;
      return { dispose() {} };
    },
  },
  commands: { registerCommand: (name) => (events.push(['command', name]), { dispose() {} }) },
  window: { showErrorMessage: (message) => events.push(['error', message]) },
};
class LanguageClient {
  constructor(id, name, server, client) {
    events.push(['client', id, server, client]);
  }
  start() {
    events.push(['start']);
    return Promise.resolve();
  }
  stop() {
    events.push(['stop']);
    return Promise.resolve();
  }
}
const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === 'vscode') return vscode;
  if (request === 'vscode-languageclient/node') return { LanguageClient };
  return load.call(this, request, ...rest);
};

const extension = require(path.join(__dirname, '..', 'extension.js'));
(async () => {
  const context = { subscriptions: [] };
  await extension.activate(context);
  const [, id, server, client] = events.find((e) => e[0] === 'client');
  assert.strictEqual(id, 'trainc');
  assert.deepStrictEqual(server, { command: '/opt/trainc/bin/trainc', args: ['lsp'] });
  assert.deepStrictEqual(client.documentSelector, [{ scheme: 'file', language: 'trainc' }]);
  assert.deepStrictEqual(client.initializationOptions, { skipData: true });
  assert.ok(events.some((e) => e[0] === 'command' && e[1] === 'trainc.restartServer'));
  assert.strictEqual(context.subscriptions.length, 2);

  settings['server.path'] = 'trainc-dev';
  await onConfig({ affectsConfiguration: (s) => s === 'trainc.server' });
  const clients = events.filter((e) => e[0] === 'client');
  assert.strictEqual(clients.length, 2);
  assert.strictEqual(clients[1][2].command, 'trainc-dev');
  assert.ok(events.some((e) => e[0] === 'stop'));
  await extension.deactivate();
  console.log('ok: the extension starts `trainc lsp`, passes its settings and restarts on a change');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
