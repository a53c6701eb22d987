a:2
PUT:(a, 1):TRUE
PUT:(a, 2):TRUE
PUT:(a, 1):TRUE
PUT:(a, 2):TRUE
