; Folds for trainc: anything in braces, and long argument lists, lists and tuples.
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
  (comment)
] @fold
