//! Signature help inside a call's parentheses: the builtin's signature (or the block's header)
//! with the argument under the cursor highlighted: by name when it is written `name = …`, by
//! position otherwise (a piped call's first argument is the pipe's input).

use lsp_types::{
    Documentation, ParameterInformation, ParameterLabel, SignatureHelp, SignatureHelpParams, SignatureInformation,
};

use super::analysis::ROOT;
use super::completion::{open_brackets, word_before};
use super::hover::header;
use super::server::Server;
use crate::check::builtins::BUILTINS;
use crate::syntax::ast::Item;

pub fn help(server: &Server, p: SignatureHelpParams) -> Option<SignatureHelp> {
    let doc = &p.text_document_position_params;
    let analysis = server.analysis(&doc.text_document.uri)?;
    let text = analysis.text(ROOT);
    let offset = analysis.offset(ROOT, doc.position, server.encoding);
    let open = open_brackets(text, offset).into_iter().rev().find(|o| o.bracket == b'(')?;
    let callee = word_before(text, open.at);
    let piped = text[..open.at - callee.len()].trim_end().ends_with("|>");
    let args = &text[open.at + 1..offset];
    // Commas at depth 0 before the cursor give the position; `name =` gives the name.
    let mut depth = 0i32;
    let mut index = usize::from(piped);
    let mut current_start = 0;
    for (i, c) in args.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                index += 1;
                current_start = i + 1;
            }
            _ => {}
        }
    }
    let named = args[current_start..].split_once('=').map(|(n, _)| n.trim().to_string());
    let (label, params, doc_text): (String, Vec<String>, String) = match BUILTINS.iter().find(|b| b.name == callee) {
        Some(b) => (b.signature(), b.params.iter().map(|p| p.name.to_string()).collect(), b.summary.to_string()),
        None => {
            let names = server.names(&doc.text_document.uri)?;
            let program = names.program();
            let decl = program.root.and_then(|m| program.lookup(m, callee))?;
            let Item::Graph(g) = program.item(decl) else { return None };
            (header(names, g), g.params.iter().map(|p| p.name.name.clone()).collect(), String::new())
        }
    };
    let active = named.and_then(|n| params.iter().position(|p| *p == n)).unwrap_or(index);
    let parameters = params
        .iter()
        .map(|p| ParameterInformation { label: ParameterLabel::Simple(p.clone()), documentation: None })
        .collect();
    Some(SignatureHelp {
        signatures: vec![SignatureInformation {
            label,
            documentation: (!doc_text.is_empty()).then_some(Documentation::String(doc_text)),
            parameters: Some(parameters),
            active_parameter: Some(active as u32),
        }],
        active_signature: Some(0),
        active_parameter: Some(active as u32),
    })
}
