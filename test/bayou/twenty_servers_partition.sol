PUT:(x, 1):FALSE
PUT:(y, 2):TRUE
PUT:(y, 2):TRUE
PUT:(x, 1):TRUE
PUT:(y, 2):TRUE
PUT:(x, 1):TRUE
x:1
