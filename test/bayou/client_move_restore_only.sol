b:2
PUT:(a, 1):TRUE
PUT:(b, 2):FALSE
PUT:(a, 1):TRUE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
