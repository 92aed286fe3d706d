// Starts the trainc language server (`trainc lsp`) for .train files: diagnostics as you type,
// every binding's tensor shape as an inlay hint, hover, completion, go to definition and
// references (into the stdlib), document symbols, signature help and formatting (`trainc fmt`).
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

function start() {
  const config = vscode.workspace.getConfiguration('trainc');
  const command = config.get('server.path') || 'trainc';
  const serverOptions = { command, args: ['lsp'] };
  const clientOptions = {
    documentSelector: [{ scheme: 'file', language: 'trainc' }],
    initializationOptions: { skipData: config.get('server.skipData', false) },
  };
  client = new LanguageClient('trainc', 'trainc language server', serverOptions, clientOptions);
  return client.start().catch((err) => {
    vscode.window.showErrorMessage(
      `trainc: cannot start \`${command} lsp\` (${err && err.message ? err.message : err}). ` +
        'Install trainc or set "trainc.server.path" to the binary.'
    );
  });
}

async function restart() {
  if (client) {
    await client.stop().catch(() => undefined);
  }
  await start();
}

function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('trainc.server')) {
        return restart();
      }
      return undefined;
    }),
    vscode.commands.registerCommand('trainc.restartServer', restart)
  );
  return start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
