" Vim syntax file
" Language:    trainc (a declarative language for training vision models)
" Filenames:   *.train
"
" The builtin names below mirror src/check/builtins.rs; tests/editors.rs fails when they drift.

if exists('b:current_syntax')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

syn case match
syn iskeyword @,48-57,_,192-255

" ── comments ────────────────────────────────────────────────────────────────────────────────
syn keyword traincTodo contained TODO FIXME XXX NOTE
syn match   traincLineComment  "//.*$" contains=traincTodo,@Spell
syn region  traincBlockComment start="/\*" end="\*/" contains=traincTodo,@Spell fold

" ── literals ────────────────────────────────────────────────────────────────────────────────
syn match   traincEscape       contained +\\[\\"nt]+
syn match   traincBadEscape    contained +\\[^\\"nt]+
syn region  traincString       start=+"+ skip=+\\\\\|\\"+ end=+"+ end=+$+ contains=traincEscape,traincBadEscape oneline
syn match   traincNumber       "\<\d\%(_\=\d\)*\>"
syn match   traincFloat        "\<\d\%(_\=\d\)*\%(\.\d\%(_\=\d\)*\%([eE][+-]\=\d\+\)\=\|[eE][+-]\=\d\+\)\>"
syn keyword traincBoolean      true false

" ── keywords ────────────────────────────────────────────────────────────────────────────────
" Item keywords are contextual: they only open top-level items, so `model = cnn` inside a
" train block stays a key. They are matched where an item starts: a keyword, then a name (or
" `{` for train, a path or string for use).
syn match   traincItem         "^\s*\zs\<\%(dataset\|augment\|model\|block\|profile\)\>\ze\s\+\h" nextgroup=traincItemName skipwhite
syn match   traincItemName     contained "\h\w*"
syn match   traincTrainItem    "^\s*\zs\<\%(train\|sweep\)\>\ze\s*\%({\|(\|$\|//\)"
syn match   traincUse          +^\s*\zs\<use\>\ze\s\+\%(std\>\|"\)+ nextgroup=traincModulePath skipwhite
syn match   traincModulePath   contained "\<std\%(/\h\w*\)\+"
syn keyword traincReturn       return
syn keyword traincParamStmt    param
syn keyword traincThen         then

" ── types and shapes ────────────────────────────────────────────────────────────────────────
syn keyword traincType         int float bool str Image Logits Mask Heatmap Tensor
syn match   traincWildcard     "\<_\>"
syn match   traincSymbol       "\<\%(B\|classes\)\>"

" Calls of blocks defined in trainc; builtins (below) take precedence.
syn match   traincCall         "\<\h\w*\ze\s*("

" ── builtins, by kind ───────────────────────────────────────────────────────────────────────
" `linear` is both a layer and a schedule: a layer, except after `schedule =`.
syn keyword traincLayer        conv2d conv_transpose2d batch_norm group_norm layer_norm dropout relu gelu
syn keyword traincLayer        silu sigmoid tanh leaky_relu softmax maxpool avgpool adaptive_avgpool flatten
syn keyword traincLayer        add concat upsample identity relu6 hardswish hardsigmoid mish prelu dropout2d
syn keyword traincLayer        drop_path sub mul scale matmul mean sum reshape permute transpose select attention
syn match   traincLayer        "\<linear\>"
syn keyword traincLoss         cross_entropy bce mse l1 smooth_l1 focal dice centernet_loss fcos_loss
syn keyword traincOptimizer    sgd adam adamw rmsprop lion lamb
syn keyword traincSchedule     constant warmup cosine step one_cycle exponential polynomial plateau
syn match   traincSchedule     "\%(\<schedule\s*=.*\)\@<=\<linear\>"
syn keyword traincAugment      normalize resize letterbox tile random_crop center_crop hflip vflip rotate color_jitter random_erasing
syn keyword traincAugment      random_resized_crop random_affine gaussian_blur grayscale one_of rand_augment trivial_augment mixup cutmix
syn keyword traincSource       idx image_folder csv jsonl coco mask_folder voc yolo
syn keyword traincMetric       accuracy top_k precision recall f1 confusion_matrix map50 map miou pixel_accuracy
syn keyword traincWeights      load
syn keyword traincParam        frozen group
syn keyword traincLogger       mlflow
syn match   traincSplit        "\<split\>\ze\s*("
syn keyword traincWord         imagenet per_image same nearest bilinear min trainc torchvision f32 bf16 f16
" `max` is a word (`mode = max`) and, called, a layer; keywords would win over the call's match.
syn match   traincWord         "\<max\>"
syn match   traincLayer        "\<max\ze\s*("

" ── keys of train, data, checkpoint, early_stop, ema and dataset records ───────────────────
" A key is a known name followed by `=` or `{` (or `.` in a profile path).
syn match   traincKey          "\<\%(model\|data\|loss\|optimizer\|schedule\|epochs\|metrics\|checkpoint\|early_stop\|ema\|clip_grad\|accumulate\|seed\|limit_batches\|log_every\|name\|weights\|freeze\|groups\|export\|mix\|plots\|logger\|precision\)\>\ze\s*[={.]"
syn match   traincKey          "\<\%(batch\|augment\|eval_augment\|workers\|balanced\|shuffle\)\>\ze\s*[={.]"
syn match   traincKey          "\<\%(monitor\|mode\|keep\|patience\|min_delta\|decay\)\>\ze\s*[={.]"
syn match   traincKey          "\<\%(train\|val\|test\|classes\|channels\|skip_bad\)\>\ze\s*\%(=\|\.\h\w*\s*=\)"
syn keyword traincTarget       image boxes masks

" ── operators and punctuation ───────────────────────────────────────────────────────────────
syn match   traincOperator     "[-+*=:]"
syn match   traincOperator     "/\%([/*]\)\@!"
syn match   traincPipe         "|>"
syn match   traincArrow        "->"

" Where items start at the same place the one defined last wins, and keywords beat matches:
" so the specific matches (keys, `linear` as a schedule) come after the general ones.
" Braces fold (ftplugin/trainc.vim sets foldmethod=syntax when g:trainc_fold is set).
syn region  traincFold         start="{" end="}" transparent fold

hi def link traincTodo         Todo
hi def link traincLineComment  Comment
hi def link traincBlockComment Comment
hi def link traincEscape       SpecialChar
hi def link traincBadEscape    Error
hi def link traincString       String
hi def link traincNumber       Number
hi def link traincFloat        Float
hi def link traincBoolean      Boolean
hi def link traincItem         Keyword
hi def link traincTrainItem    Keyword
hi def link traincUse          Include
hi def link traincModulePath   String
hi def link traincItemName     Function
hi def link traincReturn       Statement
hi def link traincParamStmt    Statement
hi def link traincThen         Keyword
hi def link traincType         Type
hi def link traincWildcard     Special
hi def link traincSymbol       Constant
hi def link traincLayer        Function
hi def link traincLoss         Function
hi def link traincOptimizer    Function
hi def link traincSchedule     Function
hi def link traincAugment      Function
hi def link traincSource       Function
hi def link traincMetric       Function
hi def link traincWeights      Function
hi def link traincParam        Function
hi def link traincLogger       Function
hi def link traincSplit        Function
hi def link traincWord         Constant
hi def link traincKey          Identifier
hi def link traincTarget       Special
hi def link traincPipe         Operator
hi def link traincArrow        Operator
hi def link traincOperator     Operator
hi def link traincCall         Function

syn sync minlines=200

let b:current_syntax = 'trainc'

let &cpo = s:cpo_save
unlet s:cpo_save
