//! Inlay hints: the shape of every tensor binding, written with the user's own symbols
//! (`h = x |> conv2d(64) ⟶ [B, 64, H, W]`). A single name gets its hint after the value; each
//! name of `c3, c4 = backbone(x)` gets one after itself.

use std::collections::HashSet;

use lsp_types::{InlayHint, InlayHintKind, InlayHintLabel, InlayHintParams};

use super::server::Server;

pub fn hints(server: &Server, p: InlayHintParams) -> Option<Vec<InlayHint>> {
    let analysis = server.analysis(&p.text_document.uri)?;
    let file = analysis.file_id(&Server::path_of(&p.text_document.uri)?)?;
    let shapes = &analysis.outcome.checked.shapes;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for b in shapes.iter().filter(|b| b.name_span.file == file) {
        // The same binding is inferred again for each profile; the first one counts.
        if !seen.insert(b.name_span) {
            continue;
        }
        let alone =
            shapes.iter().filter(|o| o.value == b.value).map(|o| o.name_span).collect::<HashSet<_>>().len() == 1;
        let (at, label) = if alone {
            (b.value.end as usize, format!("⟶ {}", b.shape))
        } else {
            (b.name_span.end as usize, format!(": {}", b.shape))
        };
        let position = analysis.range(crate::syntax::span::Span::new(file, at, at), server.encoding).start;
        if position < p.range.start || position > p.range.end {
            continue;
        }
        out.push(InlayHint {
            position,
            label: InlayHintLabel::String(label),
            kind: Some(InlayHintKind::TYPE),
            text_edits: None,
            tooltip: None,
            padding_left: Some(alone),
            padding_right: None,
            data: None,
        });
    }
    Some(out)
}
