k:ERR_DEP
k:v
PUT:(k, v):TRUE
