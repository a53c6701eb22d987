PUT:(b, 2):FALSE
PUT:(a, 3):FALSE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(a, 3):TRUE
PUT:(a, 1):TRUE
PUT:(b, 2):TRUE
PUT:(a, 3):TRUE
a:3
a:3
