PUT:(song1, url1):TRUE
song1:url1
