k:v
x:ERR_KEY
k:v
PUT:(k, v):TRUE
PUT:(k, v):TRUE
