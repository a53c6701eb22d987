PUT:(k, v):FALSE
k:v
PUT:(k, v):TRUE
PUT:(k, v):TRUE
k:v
