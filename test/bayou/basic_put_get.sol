song1:ERR_KEY
song1:url1
song1:url2
song2:http://example.com/a/b.mp3
PUT:(song1, url1):TRUE
PUT:(song1, url2):TRUE
PUT:(song2, http://example.com/a/b.mp3):TRUE
