a:ERR_DEP
a:1
PUT:(a, 1):TRUE
