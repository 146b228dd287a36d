package primes

// ISqrt lets the tests' reference sieves size themselves as the engine does.
var ISqrt = isqrt
