PUT:(far, 1):TRUE
PUT:(far, 1):TRUE
far:1
near:2
PUT:(far, 1):TRUE
PUT:(near, 2):TRUE
