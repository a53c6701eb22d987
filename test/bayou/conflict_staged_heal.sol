PUT:(k, a):FALSE
PUT:(k, b):FALSE
k:a
k:b
PUT:(k, b):TRUE
PUT:(k, b):TRUE
PUT:(k, a):FALSE
PUT:(k, b):TRUE
PUT:(k, a):TRUE
PUT:(k, b):TRUE
PUT:(k, a):TRUE
k:a
k:a
