k:v
gone:ERR_KEY
PUT:(k, v):TRUE
DELETE:(gone):TRUE
