k:ERR_DEP
other:ERR_DEP
k:v
other:ERR_KEY
