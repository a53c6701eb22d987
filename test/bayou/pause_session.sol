k:ERR_DEP
k:v
j:ERR_KEY
PUT:(k, v):TRUE
