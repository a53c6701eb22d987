PUT:(k, v):TRUE
PUT:(k, w):TRUE
k:w
