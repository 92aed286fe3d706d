" Headless syntax and indent test for editors/vim. Run from the repository root:
"
"   vim -u NONE -N -es -c 'source editors/vim/test/syntax_test.vim'
"
" Exits 0 when every assertion holds, 1 otherwise (and prints the failures).

let s:root = fnamemodify(expand('<sfile>:p'), ':h:h')
let &runtimepath = s:root . ',' . &runtimepath
filetype plugin indent on
syntax on

let s:failures = []
let s:checks = 0

function! s:Fail(msg) abort
  call add(s:failures, a:msg)
endfunction

" Asserts the syntax group of the first occurrence of `text` on the line that matches `pat`
" (the nth occurrence with a fourth argument).
function! s:Expect(pat, text, group, ...) abort
  let s:checks += 1
  let nth = a:0 ? a:1 : 1
  let lnum = search(a:pat, 'nw')
  if lnum == 0
    call s:Fail(printf('no line matches /%s/', a:pat))
    return
  endif
  let line = getline(lnum)
  let col = -1
  for i in range(nth)
    let col = stridx(line, a:text, col + 1)
  endfor
  if col < 0
    call s:Fail(printf('line %d has no `%s`', lnum, a:text))
    return
  endif
  for c in range(col + 1, col + len(a:text))
    let name = synIDattr(synID(lnum, c, 1), 'name')
    if name !=# a:group
      call s:Fail(printf('line %d col %d (`%s` in `%s`): expected %s, got %s',
            \ lnum, c, a:text, trim(line), a:group, empty(name) ? '(none)' : name))
      return
    endif
  endfor
endfunction

execute 'edit ' . fnameescape(s:root . '/test/sample.train')

let s:checks += 1
if &filetype !=# 'trainc'
  call s:Fail('filetype is "' . &filetype . '", expected trainc (ftdetect)')
endif
let s:checks += 1
if &commentstring !=# '// %s' || &shiftwidth != 2 || !&expandtab
  call s:Fail(printf('ftplugin: commentstring=%s shiftwidth=%d expandtab=%d', &commentstring, &shiftwidth, &expandtab))
endif

" comments
call s:Expect('^// A sample', '// A sample', 'traincLineComment')
call s:Expect('^/\* A block', '/* A block', 'traincBlockComment')
call s:Expect('^   comment \*/', 'comment */', 'traincBlockComment')
" item keywords and names
call s:Expect('^use ', 'use', 'traincUse')
call s:Expect('^use ', 'std/backbones', 'traincModulePath')
call s:Expect('^dataset', 'dataset', 'traincItem')
call s:Expect('^dataset', 'fashion', 'traincItemName')
call s:Expect('^augment', 'augment', 'traincItem')
call s:Expect('^augment', 'train_tf', 'traincItemName')
call s:Expect('^model', 'model', 'traincItem')
call s:Expect('^model', 'cnn', 'traincItemName')
call s:Expect('^train {', 'train', 'traincTrainItem')
call s:Expect('^profile', 'profile', 'traincItem')
call s:Expect('^profile', 'fast', 'traincItemName')
call s:Expect('return linear', 'return', 'traincReturn')
call s:Expect('then linear', 'then', 'traincThen')
" contextual item keywords inside records are keys, not keywords
call s:Expect('^  model     = cnn', 'model', 'traincKey')
call s:Expect('^  train   = "train"', 'train', 'traincKey')
call s:Expect('augment = train_tf', 'augment', 'traincKey')
call s:Expect('^profile', 'train', 'traincKey')
call s:Expect('^profile', 'limit_batches', 'traincKey')
call s:Expect('^  classes', 'classes', 'traincKey')
call s:Expect('checkpoint {', 'checkpoint', 'traincKey')
call s:Expect('checkpoint {', 'monitor', 'traincKey')
" builtins of each kind
call s:Expect('conv2d(32', 'conv2d', 'traincLayer')
call s:Expect('conv2d(32', 'relu', 'traincLayer')
call s:Expect('return linear', 'linear', 'traincLayer')
call s:Expect('then linear', 'linear', 'traincSchedule')
call s:Expect('then linear', 'warmup', 'traincSchedule')
call s:Expect('cross_entropy', 'cross_entropy', 'traincLoss')
call s:Expect('adamw', 'adamw', 'traincOptimizer')
call s:Expect('^augment', 'random_crop', 'traincAugment')
call s:Expect('^augment', 'normalize', 'traincAugment')
call s:Expect('^dataset', 'idx', 'traincSource')
call s:Expect('metrics', 'accuracy', 'traincMetric')
call s:Expect('metrics', 'top_k', 'traincMetric')
call s:Expect('freeze', 'frozen', 'traincParam')
call s:Expect('groups', 'group', 'traincParam', 2)
call s:Expect('  freeze', 'freeze', 'traincKey')
call s:Expect('conv2d(32', 'resnet18', '')
call s:Expect('^  h = x', 'h', '')
" types, shapes and symbols
call s:Expect('^model', 'Image', 'traincType')
call s:Expect('^model', 'Logits', 'traincType')
call s:Expect('^model', 'B', 'traincSymbol')
call s:Expect('^model', 'classes', 'traincSymbol')
call s:Expect('^augment', 'image', 'traincTarget')
call s:Expect('^augment', 'imagenet', 'traincWord')
" literals
call s:Expect('^model', '28', 'traincNumber')
call s:Expect('adamw', '1e-3', 'traincFloat')
call s:Expect('adamw', '1_000', 'traincNumber')
call s:Expect('then linear', '3.0e+2', 'traincFloat')
call s:Expect('hflip', '0.5', 'traincFloat')
call s:Expect('^dataset', '"/data/fash', 'traincString')
call s:Expect('^dataset', '\"', 'traincEscape')
call s:Expect('^dataset', '\n', 'traincEscape')
" operators
call s:Expect('conv2d(32', '|>', 'traincPipe')
call s:Expect('^model', '->', 'traincArrow')
call s:Expect('^model', ':', 'traincOperator')
call s:Expect('^  seed', '=', 'traincOperator')

" Indentation: re-indenting a flattened copy gives back two spaces per level.
let s:want = ['model m(x: [B, C, H, W]) {', '  h = x |> conv2d(', '    8,', '    k = 3', '  )', '  return h', '}',
      \ 'train {', '  checkpoint {', '    mode = max', '  }', '}']
enew
call setline(1, map(copy(s:want), 'trim(v:val)'))
setfiletype trainc
normal! gg=G
let s:checks += 1
if getline(1, '$') != s:want
  call s:Fail("indent: got\n    " . join(getline(1, '$'), "\n    "))
endif

" Ex mode (-es) prints no messages: write the report to standard output.
let s:report = map(copy(s:failures), '"FAIL " . v:val')
call add(s:report, printf('vim syntax test: %d passed, %d failed', s:checks - len(s:failures), len(s:failures)))
call writefile(s:report, '/dev/stdout')
if empty(s:failures)
  qall!
else
  cquit!
endif
