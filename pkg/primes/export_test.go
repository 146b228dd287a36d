package primes

// ISqrt lets the tests' reference sieves size themselves as the engine does.
var ISqrt = isqrt

// LucySum is the recurrence PrefixSum uses below 2^20: an independent
// method to check the combinatorial one against.
var LucySum = lucySum
