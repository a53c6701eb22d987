k:v
PUT:(k, v):TRUE
PUT:(k, v):TRUE
PUT:(k, v):TRUE
PUT:(k, w):TRUE
