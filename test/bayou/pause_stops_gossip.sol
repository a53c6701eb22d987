k:ERR_KEY
PUT:(j, w):FALSE
j:ERR_DEP
PUT:(k, v):TRUE
PUT:(k, v):TRUE
PUT:(j, w):TRUE
k:v
j:w
PUT:(k, v):TRUE
PUT:(j, w):TRUE
