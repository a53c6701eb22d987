k:v
k:ERR_DEP
other:ERR_DEP
k:v
