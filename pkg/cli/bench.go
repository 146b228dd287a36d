package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/sumprimes/sumprimes/pkg/client"
	"github.com/sumprimes/sumprimes/pkg/job"
)

// benchResult is what one load run measured.
type benchResult struct {
	jobs, errors int
	elapsed      time.Duration
	post, e2e    []time.Duration
	// slowest splits the slowest job's end-to-end time at the record's
	// timestamps (the API's and worker's clocks, on one machine in make
	// bench): to createdAt, to finishedAt, to the client seeing it.
	slowest [3]time.Duration
}

func benchCommand(stdout io.Writer) *cobra.Command {
	var (
		rate        float64
		concurrency int
		duration    time.Duration
		maxJobs     int
		a, b        uint64
		preferWait  bool
		drain       bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load the API like clients do: POST, then wait for FINISHED; report throughput and latencies",
		Long: `bench submits jobs and waits for each to finish (long-polling), as the
seed design's scale test did. With --rate it is an open loop: jobs arrive at
that rate whatever the service does, which is how latency under load is
measured honestly. Without it, --concurrency clients submit back to back:
the most the service can do. Run it against 127.0.0.1 or your own test
deployment only; raise the API's rate limits first (ratelimit.enabled=false).`,
		Example: `  sumprimes bench --duration 10s --concurrency 16
  sumprimes bench --rate 200 --duration 30s --a 1 --b 100000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a < 1 || b < a || concurrency < 1 || duration <= 0 || rate < 0 || maxJobs < 0 {
				return usageError{fmt.Errorf("want 1 ≤ --a ≤ --b, --concurrency ≥ 1, --duration > 0, --rate ≥ 0, --jobs ≥ 0")}
			}
			// A load generator allocates as a service does, a request at a
			// time, with as little live heap: the services' collector
			// setting spares the machine it shares with them.
			tuneGC()
			// Clients that keep their connections, as a real service's do:
			// net/http keeps two idle ones per host by default, so a load of
			// hundreds at once would be mostly TCP handshakes.
			var transport http.RoundTripper = newInlineTransport()
			if !strings.HasPrefix(apiURL(cmd), "http://") {
				t := http.DefaultTransport.(*http.Transport).Clone()
				t.MaxIdleConns, t.MaxIdleConnsPerHost = 0, 4096
				transport = t
			}
			c := newClient(cmd, client.WithHTTPClient(&http.Client{Transport: transport}))
			if drain {
				if maxJobs == 0 {
					return usageError{fmt.Errorf("--drain needs --jobs")}
				}
				return runDrain(cmd.Context(), c, a, b, concurrency, maxJobs, stdout)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), duration)
			defer cancel()
			res := runBench(ctx, c, a, b, rate, concurrency, maxJobs, preferWait, cmd.ErrOrStderr())
			printBench(stdout, res)
			if res.jobs == 0 {
				return fmt.Errorf("no job finished: is the API at %s up?", apiURL(cmd))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&rate, "rate", 0, "open loop: jobs submitted per second (0: closed loop)")
	f.IntVar(&concurrency, "concurrency", 8, "closed loop: clients submitting back to back")
	f.DurationVar(&duration, "duration", 10*time.Second, "how long to submit")
	f.IntVar(&maxJobs, "jobs", 0, "stop after this many jobs (0: no limit)")
	f.Uint64Var(&a, "a", 1, "each job's lower bound")
	f.Uint64Var(&b, "b", 1_000_000, "each job's upper bound")
	f.BoolVar(&drain, "drain", false, "submit --jobs jobs without waiting (print a line starting \"submitted\"), then wait for them all and report how fast the workers drained them: (jobs-1) / (last finishedAt - first finishedAt); start the workers after the submitted line to measure a backlog draining")
	f.BoolVar(&preferWait, "prefer-wait", false, "submit with Prefer: wait=30, so a quick job's result comes in the POST's answer (no poll); POST latency then includes the job")
	addClientFlags(cmd)
	return cmd
}

// runBench runs until ctx ends or maxJobs jobs were submitted, then waits
// (up to a minute) for the jobs in flight.
func runBench(ctx context.Context, c *client.Client, a, b uint64, rate float64, concurrency, maxJobs int, preferWait bool, progress io.Writer) benchResult {
	var (
		mu       sync.Mutex
		res      benchResult
		started  atomic.Int64
		inflight sync.WaitGroup
	)
	// Jobs outlive the submission window by up to a minute.
	waitCtx, cancelWait := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancelWait()
	one := func() {
		defer inflight.Done()
		start := time.Now()
		var opts []client.SubmitOption
		if preferWait {
			opts = append(opts, client.PreferWait(30*time.Second))
		}
		rec, err := c.Submit(waitCtx, a, b, opts...)
		posted := time.Since(start)
		if err == nil && !rec.Status.Final() {
			rec, err = c.Wait(waitCtx, rec.RequestID, nil)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil || rec.Status != job.Finished {
			res.errors++
			return
		}
		res.jobs++
		res.post = append(res.post, posted)
		e2e := time.Since(start)
		if res.jobs == 1 || e2e > res.slowest[0]+res.slowest[1]+res.slowest[2] {
			if rec.FinishedAt != nil {
				created, finished := rec.CreatedAt.Sub(start), rec.FinishedAt.Sub(rec.CreatedAt)
				res.slowest = [3]time.Duration{created, finished, e2e - created - finished}
			}
		}
		res.e2e = append(res.e2e, e2e)
	}
	claim := func() bool { return maxJobs == 0 || started.Add(1) <= int64(maxJobs) }

	begin := time.Now()
	defer everySecond(func() {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(progress, "\r%5.0fs  finished %d  errors %d  ", time.Since(begin).Seconds(), res.jobs, res.errors)
	})()
	if rate > 0 {
		// Every tick starts the jobs due by then: a tick the generator
		// missed (it shares the CPUs) delays arrivals, never drops them.
		arrivals := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer arrivals.Stop()
		launched := 0
	open:
		for {
			select {
			case <-ctx.Done():
				break open
			case now := <-arrivals.C:
				for due := int(now.Sub(begin).Seconds() * rate); launched < due; launched++ {
					if !claim() {
						break open
					}
					inflight.Add(1)
					go one()
				}
			}
		}
	} else {
		var clients sync.WaitGroup
		for range concurrency {
			clients.Add(1)
			go func() {
				defer clients.Done()
				for ctx.Err() == nil && claim() {
					inflight.Add(1)
					one()
				}
			}()
		}
		clients.Wait()
	}
	inflight.Wait()
	res.elapsed = time.Since(begin)
	fmt.Fprintln(progress)
	return res
}

// everySecond calls f once a second until the returned stop is called.
func everySecond(f func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				f()
			}
		}
	}()
	return func() { close(done) }
}

func printBench(w io.Writer, r benchResult) {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	fmt.Fprintf(w, "jobs %d, errors %d, %.1f jobs/s over %s\n", r.jobs, r.errors, float64(r.jobs)/r.elapsed.Seconds(), r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "POST        p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms\n", ms(pct(r.post, 50)), ms(pct(r.post, 95)), ms(pct(r.post, 99)))
	fmt.Fprintf(w, "end to end  p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms\n", ms(pct(r.e2e, 50)), ms(pct(r.e2e, 95)), ms(pct(r.e2e, 99)))
	fmt.Fprintf(w, "slowest job: %.2f ms to createdAt, %.2f ms to finishedAt, %.2f ms to the client seeing it\n",
		ms(r.slowest[0]), ms(r.slowest[1]), ms(r.slowest[2]))
	// One line for scripts (make bench builds its table from it).
	fmt.Fprintf(w, "result jobs=%d errors=%d jobs_per_s=%.2f post_p50_ms=%.2f post_p99_ms=%.2f e2e_p50_ms=%.2f e2e_p95_ms=%.2f e2e_p99_ms=%.2f\n",
		r.jobs, r.errors, float64(r.jobs)/r.elapsed.Seconds(), ms(pct(r.post, 50)), ms(pct(r.post, 99)),
		ms(pct(r.e2e, 50)), ms(pct(r.e2e, 95)), ms(pct(r.e2e, 99)))
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// runDrain submits n jobs from concurrency clients without waiting, says
// so, then waits for every one and reports the submit rate and the rate at
// which the workers finished them (from the records' finishedAt), reading
// the records only once the drain is over.
func runDrain(ctx context.Context, c *client.Client, a, b uint64, concurrency, n int, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	ids := make(chan string, n)
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	var failed atomic.Int64
	begin := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for range next {
				rec, err := c.Submit(ctx, a, b)
				if err != nil {
					failed.Add(1)
					continue
				}
				ids <- rec.RequestID
			}
		})
	}
	wg.Wait()
	close(ids)
	submitted := time.Since(begin)
	fmt.Fprintf(out, "submitted jobs=%d errors=%d jobs_per_s=%.2f\n", len(ids), failed.Load(), float64(len(ids))/submitted.Seconds())
	if f, ok := out.(interface{ Sync() error }); ok {
		_ = f.Sync()
	}
	// Follow the drain without loading it (Asynq's peer counts its
	// completions in its handler, for nothing): one GET every 20 ms,
	// galloping along the ids in submission order to the last one. Only
	// then does every record get read, for its finishedAt.
	order := make([]string, 0, len(ids))
	for id := range ids {
		order = append(order, id)
	}
	for k, step := 0, 1; len(order) > 0; {
		rec, err := c.Get(ctx, order[k])
		if err == nil && rec.Status.Final() {
			if k == len(order)-1 {
				break
			}
			k, step = min(k+step, len(order)-1), 2*step
		} else {
			step = 1
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	all := make(chan string, len(order))
	for _, id := range order {
		all <- id
	}
	close(all)
	var mu sync.Mutex
	var first, last time.Time
	finished := 0
	for range concurrency {
		wg.Go(func() {
			for id := range all {
				rec, err := c.Wait(ctx, id, nil)
				if err != nil || rec.Status != job.Finished || rec.FinishedAt == nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				finished++
				if first.IsZero() || rec.FinishedAt.Before(first) {
					first = *rec.FinishedAt
				}
				if rec.FinishedAt.After(last) {
					last = *rec.FinishedAt
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if finished < 2 {
		return fmt.Errorf("only %d jobs finished", finished)
	}
	fmt.Fprintf(out, "result jobs=%d errors=%d drain_jobs_per_s=%.2f drain_s=%.3f\n",
		finished, failed.Load(), float64(finished-1)/last.Sub(first).Seconds(), last.Sub(first).Seconds())
	return nil
}
