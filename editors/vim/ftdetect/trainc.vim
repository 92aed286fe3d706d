" trainc: a declarative language for training vision models.
autocmd BufNewFile,BufRead *.train setfiletype trainc
