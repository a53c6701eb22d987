a:1
PUT:(a, 1):TRUE
PUT:(a, 1):TRUE
k:ERR_KEY
