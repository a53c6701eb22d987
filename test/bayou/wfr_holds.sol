k:v
PUT:(k, v):TRUE
PUT:(x, y):TRUE
x:y
