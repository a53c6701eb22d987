k:ERR_KEY
z:1
PUT:(z, 1):FALSE
PUT:(k, v):TRUE
PUT:(k, v):TRUE
PUT:(z, 1):TRUE
k:v
