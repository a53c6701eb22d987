k:a
PUT:(k, a):FALSE
PUT:(k, b):FALSE
k:b
PUT:(k, a):TRUE
PUT:(k, b):TRUE
k:b
