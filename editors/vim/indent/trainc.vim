" Vim indent file for trainc (*.train): one shiftwidth per open brace, bracket or parenthesis.

if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal indentexpr=GetTraincIndent(v:lnum)
setlocal indentkeys=0{,0},0),0],!^F,o,O
setlocal autoindent nosmartindent nocindent

let b:undo_indent = 'setlocal indentexpr< indentkeys< autoindent< smartindent< cindent<'

if exists('*GetTraincIndent')
  finish
endif

" The line without strings and comments, so brackets inside them do not count.
function! s:Code(line) abort
  let l = substitute(a:line, '"\%(\\.\|[^"\\]\)*"', '""', 'g')
  let l = substitute(l, '/\*.\{-}\*/', '', 'g')
  return substitute(l, '//.*$', '', '')
endfunction

function! GetTraincIndent(lnum) abort
  let prev = prevnonblank(a:lnum - 1)
  if prev == 0
    return 0
  endif
  let code = s:Code(getline(prev))
  let ind = indent(prev)
  " Brackets the previous line opened minus those it closed; closers that start the line
  " were already accounted for by dedenting that line itself.
  let net = 0
  let leading = 1
  for c in split(code, '\zs')
    if c =~# '[{(\[]'
      let net += 1
      let leading = 0
    elseif c =~# '[})\]]'
      if !leading
        let net -= 1
      endif
    elseif c !~# '\s'
      let leading = 0
    endif
  endfor
  if net > 0
    let ind += shiftwidth()
  elseif net < 0
    let ind -= shiftwidth()
  endif
  " A line that starts by closing a bracket dedents.
  if getline(a:lnum) =~# '^\s*[})\]]'
    let ind -= shiftwidth()
  endif
  return ind < 0 ? 0 : ind
endfunction
