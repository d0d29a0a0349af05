// The %viz pipeline lives here.
