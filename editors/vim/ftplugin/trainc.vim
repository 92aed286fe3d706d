" Vim filetype plugin for trainc (*.train).

if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

let s:cpo_save = &cpo
set cpo&vim

setlocal commentstring=//\ %s
setlocal comments=s1:/*,mb:*,ex:*/,://
setlocal formatoptions-=t formatoptions+=croql
setlocal shiftwidth=2 softtabstop=2 tabstop=8 expandtab
setlocal iskeyword=@,48-57,_,192-255
setlocal suffixesadd=.train
setlocal matchpairs=(:),{:},[:]

" Fold on braces when asked: let g:trainc_fold = 1 in your vimrc.
if get(g:, 'trainc_fold', 0)
  setlocal foldmethod=syntax
endif

let b:undo_ftplugin = 'setlocal commentstring< comments< formatoptions< shiftwidth< softtabstop<'
      \ . ' tabstop< expandtab< iskeyword< suffixesadd< matchpairs< foldmethod<'

let &cpo = s:cpo_save
unlet s:cpo_save
