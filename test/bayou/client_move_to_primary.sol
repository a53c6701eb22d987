k:v
PUT:(k, v):TRUE
