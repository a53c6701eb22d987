ghost:ERR_KEY
DELETE:(ghost):TRUE
PUT:(ghost, boo):TRUE
DELETE:(ghost):TRUE
DELETE:(ghost):TRUE
