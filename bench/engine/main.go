// Command engine is make bench-primes' measure of the prefix engine's own
// memory: S(x) through pkg/primes alone, in a program that links nothing
// else. The service's binary carries the API, Kafka, Redis and tracing
// libraries too, whose start-up alone maps some 20 MB of its code and data
// before any sum begins; beside primesum (a program of its engine alone),
// this is the like-for-like figure. It prints what `sumprimes sum --output
// json` does: the sum and tookNs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"strconv"
	"time"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

func main() {
	threads := flag.Int("threads", 1, "threads the engine uses")
	flag.Parse()
	x, err := strconv.ParseUint(flag.Arg(0), 10, 64)
	if flag.NArg() != 1 || err != nil {
		log.Fatal("usage: engine [--threads N] X (1 ≤ X < 2^64)")
	}
	start := time.Now()
	sum, err := primes.PrefixSum(context.Background(), x, primes.Options{Threads: *threads})
	if err != nil {
		log.Fatal(err)
	}
	out, _ := json.MarshalIndent(struct {
		Sum    string `json:"sum"`
		TookNs int64  `json:"tookNs"`
	}{sum.String(), time.Since(start).Nanoseconds()}, "", "  ")
	fmt.Println(string(out))
}
