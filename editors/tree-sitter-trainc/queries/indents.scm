; Indentation (Helix, nvim-treesitter): one level inside braces, brackets and parentheses.
[
  (body)
  (record)
  (augment_body)
  (profile_body)
  (parameters)
  (output_types)
  (arguments)
  (list)
  (tuple)
] @indent

["}" ")" "]"] @outdent
