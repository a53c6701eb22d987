PUT:(k, v):FALSE
PUT:(k, v):FALSE
PUT:(k, v):FALSE
PUT:(k, v):FALSE
k:v
k:v
PUT:(k, v):TRUE
PUT:(k, v):TRUE
k:ERR_KEY
k:ERR_KEY
PUT:(k, v):TRUE
PUT:(k, v):TRUE
DELETE:(k):TRUE
DELETE:(k):TRUE
