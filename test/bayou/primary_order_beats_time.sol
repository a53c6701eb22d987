PUT:(k, old):FALSE
PUT:(k, new):TRUE
k:old
k:new
PUT:(k, new):TRUE
PUT:(k, old):TRUE
k:old
k:old
