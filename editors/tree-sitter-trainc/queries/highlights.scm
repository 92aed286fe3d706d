; Highlights for trainc. The builtin names mirror src/check/builtins.rs; tests/editors.rs fails
; when they drift. Earlier patterns win (tree-sitter highlight, Helix), so specific ones come first.

; ── comments and literals ──────────────────────────────────────────────────────────────────

(comment) @comment

(string) @string
(escape_sequence) @string.escape
(std_path) @string.special.path

(integer) @number
(float) @number.float
(boolean) @boolean
["true" "false"] @boolean

; ── keywords ────────────────────────────────────────────────────────────────────────────────

"use" @keyword.import
["dataset" "augment" "model" "block" "train" "profile" "sweep"] @keyword
"return" @keyword.return
"param" @keyword
"then" @keyword.operator

; ── types ───────────────────────────────────────────────────────────────────────────────────

["int" "float" "bool" "str"] @type.builtin
(scalar_type) @type.builtin

((type_identifier) @type.builtin
  (#any-of? @type.builtin "Image" "Logits" "Mask" "Heatmap" "Tensor"))
(type_identifier) @type

(tensor_type
  dimension: (identifier) @variable.builtin
  (#any-of? @variable.builtin "B" "classes"))
(tensor_type
  dimension: (identifier) @constant.builtin
  (#eq? @constant.builtin "_"))
(tensor_type
  dimension: (identifier) @variable.parameter)

; ── item names ──────────────────────────────────────────────────────────────────────────────

(use_declaration name: (identifier) @function)
(dataset_declaration name: (identifier) @type.definition)
(augment_declaration name: (identifier) @function)
(model_declaration name: (identifier) @function)
(block_declaration name: (identifier) @function)
(profile_declaration name: (identifier) @label)

((targets (identifier) @variable.builtin)
  (#any-of? @variable.builtin "image" "boxes" "masks"))
(targets (identifier) @variable.parameter)

(parameter name: (identifier) @variable.parameter)
(named_type name: (identifier) @property)
(named_expression name: (identifier) @property)
(keyword_argument name: (identifier) @variable.parameter)
(let_statement name: (identifier) @variable)

; ── train, data, checkpoint, early_stop, ema and dataset keys ──────────────────────────────

((record_field name: (identifier) @property.builtin)
  (#any-of? @property.builtin
    ; train
    "model" "data" "loss" "optimizer" "schedule" "epochs" "metrics" "checkpoint" "early_stop"
    "ema" "clip_grad" "accumulate" "seed" "limit_batches" "log_every" "name" "weights" "freeze"
    "groups" "export" "mix" "plots" "logger" "precision"
    ; data
    "batch" "augment" "eval_augment" "workers" "balanced" "shuffle"
    ; checkpoint, early_stop, ema
    "monitor" "mode" "keep" "patience" "min_delta" "decay"
    ; dataset
    "train" "val" "test" "classes" "channels" "skip_bad"))
(record_field name: (identifier) @property)

((path (identifier) @property.builtin)
  (#any-of? @property.builtin
    "model" "data" "loss" "optimizer" "schedule" "epochs" "metrics" "checkpoint" "early_stop"
    "ema" "clip_grad" "accumulate" "seed" "limit_batches" "log_every" "name" "weights" "freeze"
    "groups" "export" "mix" "plots" "logger" "precision"
    "batch" "augment" "eval_augment" "workers" "balanced" "shuffle"
    "monitor" "mode" "keep" "patience" "min_delta" "decay"
    "train" "val" "test" "classes" "channels" "skip_bad"))
(path (identifier) @property)

; ── builtins, by kind ───────────────────────────────────────────────────────────────────────

; `linear` is both a layer and a schedule: after `schedule =` it is a schedule.
(record_field
  name: (identifier) @_key
  value: [
    (call_expression function: (identifier) @function.builtin.schedule)
    (binary_expression (call_expression function: (identifier) @function.builtin.schedule))
    (binary_expression (binary_expression (call_expression function: (identifier) @function.builtin.schedule)))
  ]
  (#eq? @_key "schedule")
  (#any-of? @function.builtin.schedule "constant" "warmup" "cosine" "linear" "step" "one_cycle" "exponential"
    "polynomial" "plateau"))

((identifier) @function.builtin.layer
  (#any-of? @function.builtin.layer
    "conv2d" "conv_transpose2d" "linear" "batch_norm" "group_norm" "layer_norm" "dropout" "relu"
    "gelu" "silu" "sigmoid" "tanh" "leaky_relu" "softmax" "maxpool" "avgpool" "adaptive_avgpool"
    "flatten" "add" "concat" "upsample" "identity" "relu6" "hardswish" "hardsigmoid" "mish" "prelu"
    "dropout2d" "drop_path" "sub" "mul" "scale" "matmul" "mean" "sum" "reshape" "permute" "transpose"
    "select" "attention"))

; `max` is a word (`mode = max`) and, called, a layer.
(call_expression function: (identifier) @function.builtin.layer
  (#eq? @function.builtin.layer "max"))

((identifier) @function.builtin.loss
  (#any-of? @function.builtin.loss
    "cross_entropy" "bce" "mse" "l1" "smooth_l1" "focal" "dice" "centernet_loss" "fcos_loss"))

((identifier) @function.builtin.optimizer
  (#any-of? @function.builtin.optimizer "sgd" "adam" "adamw" "rmsprop" "lion" "lamb"))

((identifier) @function.builtin.schedule
  (#any-of? @function.builtin.schedule "constant" "warmup" "cosine" "step" "one_cycle" "exponential" "polynomial"
    "plateau"))

((identifier) @function.builtin.augment
  (#any-of? @function.builtin.augment
    "normalize" "resize" "letterbox" "tile" "random_crop" "center_crop" "hflip" "vflip" "rotate" "color_jitter"
    "random_erasing" "random_resized_crop" "random_affine" "gaussian_blur" "grayscale" "one_of"
    "rand_augment" "trivial_augment" "mixup" "cutmix"))

((identifier) @function.builtin.source
  (#any-of? @function.builtin.source
    "idx" "image_folder" "csv" "jsonl" "coco" "mask_folder" "voc" "yolo"))

((identifier) @function.builtin.metric
  (#any-of? @function.builtin.metric
    "accuracy" "top_k" "precision" "recall" "f1" "confusion_matrix" "map50" "map" "miou"
    "pixel_accuracy"))

((identifier) @function.builtin.weights
  (#any-of? @function.builtin.weights "load"))

((identifier) @function.builtin.param
  (#any-of? @function.builtin.param
    "frozen" "group"))

((identifier) @function.builtin.logger
  (#any-of? @function.builtin.logger "mlflow"))

(call_expression
  function: (identifier) @function.builtin
  (#eq? @function.builtin "split"))

; Words that some arguments take: `padding = same`, `normalize(imagenet)`, `mode = max`.
((identifier) @constant.builtin
  (#any-of? @constant.builtin "imagenet" "per_image" "same" "nearest" "bilinear" "min" "max" "trainc" "torchvision" "f32" "bf16" "f16"))

; The batch size and the dataset's class count, meaningful in every model.
((identifier) @variable.builtin
  (#any-of? @variable.builtin "B" "classes"))

; ── calls, members and the rest ─────────────────────────────────────────────────────────────

(call_expression function: (identifier) @function.call)
(member_expression member: (identifier) @property)

(identifier) @variable

; ── operators and punctuation ───────────────────────────────────────────────────────────────

"|>" @operator
"->" @operator
["+" "-" "*" "/"] @operator
"=" @operator
":" @punctuation.delimiter
["," ";" "."] @punctuation.delimiter
["(" ")" "[" "]" "{" "}"] @punctuation.bracket
"\"" @string
