//! Go to definition and find references, across every open document and what they import
//! (the stdlib included: its modules are served from read-only copies, see [`super::uri`]).
//!
//! A definition is identified by its file and byte offset, so the same block seen from two
//! documents' analyses is one definition.

use std::path::PathBuf;

use lsp_types::{GotoDefinitionParams, GotoDefinitionResponse, Location, ReferenceParams};

use super::analysis::{Analysis, Occurrence};
use super::server::Server;

/// A definition, independent of any one analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Def {
    path: PathBuf,
    start: u32,
}

fn def_of(analysis: &Analysis, o: &Occurrence) -> Option<Def> {
    let span = analysis.definition(&o.target)?;
    Some(Def { path: analysis.file_path(span.file)?.to_path_buf(), start: span.start })
}

fn at<'a>(
    server: &'a Server,
    uri: &lsp_types::Uri,
    position: lsp_types::Position,
) -> Option<(&'a Analysis, &'a Occurrence)> {
    let analysis = server.analysis(uri)?;
    let file = analysis.file_id(&Server::path_of(uri)?)?;
    let offset = analysis.offset(file, position, server.encoding);
    Some((analysis, analysis.occurrence_at(file, offset)?))
}

pub fn definition(server: &Server, p: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
    let doc = &p.text_document_position_params;
    let (analysis, o) = at(server, &doc.text_document.uri, doc.position)?;
    let span = analysis.definition(&o.target)?;
    Some(GotoDefinitionResponse::Scalar(analysis.location(span, server.encoding)?))
}

pub fn references(server: &Server, p: ReferenceParams) -> Option<Vec<Location>> {
    let doc = &p.text_document_position;
    let (analysis, o) = at(server, &doc.text_document.uri, doc.position)?;
    let target = def_of(analysis, o)?;
    let mut out: Vec<Location> = Vec::new();
    for (_, a) in server.all() {
        for occ in &a.occurrences {
            if (occ.def && !p.context.include_declaration) || def_of(a, occ).as_ref() != Some(&target) {
                continue;
            }
            if let Some(location) = a.location(occ.span, server.encoding)
                && !out.contains(&location)
            {
                out.push(location);
            }
        }
    }
    out.sort_by(|a, b| (a.uri.as_str(), a.range.start).cmp(&(b.uri.as_str(), b.range.start)));
    Some(out)
}
