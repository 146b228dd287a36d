// Command asynq is make bench's peer: the same trivial jobs through Asynq
// (github.com/hibiken/asynq), the Go task queue people pick instead, on the
// same Redis and the same machine. It enqueues every job first, then
// processes them all at the given concurrency, each handler computing the
// job's exact sum with the service's own engine and keeping it as Asynq's
// task result for three minutes, as the service keeps its records. It
// prints one line like `sumprimes bench`: result jobs=N jobs_per_s=X.
//
// A module of its own, so the service does not depend on Asynq.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

func main() {
	var (
		addr        = flag.String("redis", "127.0.0.1:6379", "Redis address")
		db          = flag.Int("db", 15, "Redis database for Asynq's keys (flushed first)")
		jobs        = flag.Int("jobs", 20000, "jobs to enqueue, then process")
		concurrency = flag.Int("concurrency", 8, "jobs processed at once")
		a           = flag.Uint64("a", 1, "each job's lower bound")
		b           = flag.Uint64("b", 1000, "each job's upper bound")
	)
	flag.Parse()
	if err := goredis.NewClient(&goredis.Options{Addr: *addr, DB: *db}).FlushDB(context.Background()).Err(); err != nil {
		log.Fatal(err) // Asynq's database only: runs must not see each other's tasks
	}
	redis := asynq.RedisClientOpt{Addr: *addr, DB: *db}
	payload, _ := json.Marshal(map[string]uint64{"a": *a, "b": *b})
	client := asynq.NewClient(redis)
	enqueueStart := time.Now()
	for range *jobs {
		if _, err := client.Enqueue(asynq.NewTask("sumprime", payload), asynq.Retention(3*time.Minute)); err != nil {
			log.Fatal(err)
		}
	}
	client.Close()
	enqueued := time.Since(enqueueStart)

	var done atomic.Int64
	var first, last atomic.Int64 // completion times, ns since start
	all := make(chan struct{})
	srv := asynq.NewServer(redis, asynq.Config{Concurrency: *concurrency, LogLevel: asynq.WarnLevel})
	start := time.Now()
	handler := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		var r struct{ A, B uint64 }
		if err := json.Unmarshal(t.Payload(), &r); err != nil {
			return err
		}
		sum, err := primes.SumRange(ctx, r.A, r.B, primes.Options{Threads: 1})
		if err != nil {
			return err
		}
		if _, err := t.ResultWriter().Write([]byte(sum.String())); err != nil {
			return err
		}
		at := int64(time.Since(start))
		first.CompareAndSwap(0, at)
		last.Store(at)
		if done.Add(1) == int64(*jobs) {
			close(all)
		}
		return nil
	})
	if err := srv.Start(handler); err != nil {
		log.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		fmt.Fprintln(os.Stderr, "asynq: not done within 5 minutes")
	}
	elapsed := time.Since(start)
	srv.Shutdown()
	n := done.Load()
	// jobs_per_s: processing only, from Start (the figure);
	// drain_jobs_per_s: first to last completion, as sumprimes bench --drain
	// measures; enqueue_jobs_per_s: the enqueue phase alone.
	fmt.Printf("result jobs=%d jobs_per_s=%.2f elapsed_s=%.2f drain_jobs_per_s=%.2f enqueue_jobs_per_s=%.2f\n", n,
		float64(n)/elapsed.Seconds(), elapsed.Seconds(), float64(n-1)/time.Duration(last.Load()-first.Load()).Seconds(),
		float64(*jobs)/enqueued.Seconds())
}
