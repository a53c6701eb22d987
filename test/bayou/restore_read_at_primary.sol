PUT:(k, v):TRUE
PUT:(k2, v2):TRUE
PUT:(k, v):TRUE
PUT:(k2, v2):TRUE
k2:v2
