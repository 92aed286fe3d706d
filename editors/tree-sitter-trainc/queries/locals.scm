; Scopes and definitions for trainc (tree-sitter's local-variable tracking).

; Every model and block is a scope for its parameters and bindings.
(model_declaration) @local.scope
(block_declaration) @local.scope

(parameter name: (identifier) @local.definition)
(let_statement name: (identifier) @local.definition)

; Names used inside expressions.
(identifier) @local.reference
