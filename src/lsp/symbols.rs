//! Document symbols: every dataset, augment, block, model, `train` block (with its keys) and
//! profile, with the bindings of models and blocks as children.

use lsp_types::{DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, SymbolKind};

use super::analysis::{Analysis, ROOT};
use super::server::Server;
use crate::syntax::ast::{FieldValue, Item, Stmt};
use crate::syntax::span::Span;

pub fn document_symbols(server: &Server, p: DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
    let analysis = server.names(&p.text_document.uri)?;
    let root = analysis.program().root?;
    let module = analysis.program().module(root);
    let symbol = |name: String, detail: Option<String>, kind, span: Span, selection: Span, children| {
        #[allow(deprecated)]
        DocumentSymbol {
            name,
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: analysis.range(span, server.encoding),
            selection_range: analysis.range(selection, server.encoding),
            children,
        }
    };
    let mut out = Vec::new();
    for item in &module.ast.items {
        let s = match item {
            Item::Use(_) => continue,
            Item::Dataset(d) => {
                symbol(d.name.name.clone(), Some("dataset".into()), SymbolKind::VARIABLE, d.span, d.name.span, None)
            }
            Item::Augment(a) => {
                symbol(a.name.name.clone(), Some("augment".into()), SymbolKind::FUNCTION, a.span, a.name.span, None)
            }
            Item::Graph(g) => {
                let children = g
                    .body
                    .iter()
                    .filter_map(|s| match s {
                        Stmt::Let { names, span, .. } => Some(
                            names
                                .iter()
                                .map(|n| {
                                    symbol(
                                        n.name.clone(),
                                        shape(analysis, n.span),
                                        SymbolKind::VARIABLE,
                                        *span,
                                        n.span,
                                        None,
                                    )
                                })
                                .collect::<Vec<_>>()
                                .into_iter(),
                        ),
                        Stmt::Param { name, span, .. } => Some(
                            vec![symbol(
                                name.name.clone(),
                                shape(analysis, name.span),
                                SymbolKind::VARIABLE,
                                *span,
                                name.span,
                                None,
                            )]
                            .into_iter(),
                        ),
                        Stmt::Return { .. } => None,
                    })
                    .flatten()
                    .collect();
                let kind = if g.kind == crate::syntax::ast::GraphKind::Model {
                    SymbolKind::CLASS
                } else {
                    SymbolKind::FUNCTION
                };
                symbol(g.name.name.clone(), Some(g.kind.keyword().into()), kind, g.span, g.name.span, Some(children))
            }
            Item::Train(t) => {
                let children = t
                    .fields
                    .iter()
                    .map(|f| {
                        let kind = if matches!(f.value, FieldValue::Record(_)) {
                            SymbolKind::OBJECT
                        } else {
                            SymbolKind::FIELD
                        };
                        symbol(f.key.name.clone(), None, kind, f.span, f.key.span, None)
                    })
                    .collect();
                let head = Span::new(ROOT, t.span.start as usize, t.span.start as usize + "train".len());
                symbol("train".into(), None, SymbolKind::OBJECT, t.span, head, Some(children))
            }
            Item::Profile(pr) => {
                symbol(pr.name.name.clone(), Some("profile".into()), SymbolKind::NAMESPACE, pr.span, pr.name.span, None)
            }
            Item::Sweep(sw) => {
                let children = sw
                    .settings
                    .iter()
                    .map(|s| {
                        let path = s.path.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(".");
                        let head = s.path.first().map_or(s.span, |first| first.span.to(s.path[s.path.len() - 1].span));
                        symbol(path, None, SymbolKind::FIELD, s.span, head, None)
                    })
                    .collect();
                let head = Span::new(ROOT, sw.span.start as usize, sw.span.start as usize + "sweep".len());
                symbol("sweep".into(), None, SymbolKind::OBJECT, sw.span, head, Some(children))
            }
        };
        out.push(s);
    }
    Some(DocumentSymbolResponse::Nested(out))
}

fn shape(analysis: &Analysis, name: Span) -> Option<String> {
    analysis.outcome.checked.shapes.iter().find(|b| b.name_span == name).map(|b| b.shape.to_string())
}
