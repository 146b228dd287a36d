package cli

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

func sumCommand(stdout io.Writer) *cobra.Command {
	var (
		threads  int
		showPlan bool
		dryRun   bool
		engine   string
	)
	cmd := &cobra.Command{
		Use:   "sum A B",
		Short: "Compute the sum of the primes in [A, B] locally and print it",
		Long: `sum computes locally, with the engine the planner picks: a segmented sieve,
whose time grows with B − A, or the prefix engine, the
combinatorial (Deléglise–Rivat) method for sums, whose time grows with B^⅔
(sum over [A, B] = S(B) − S(A−1)). A and B go up to 2^64 − 1; --plan prints
the planner's estimate first, scaled to this machine by a short probe of
both engines (some 0.1 to 0.3 s).`,
		Example: `  sumprimes sum 1 1000000
  37550402023`,
		Args: twoBounds,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, b, err := bounds(args)
			if err != nil {
				return err
			}
			if threads < 0 {
				return usageError{fmt.Errorf("--threads must not be negative")}
			}
			plan := primes.PlanRange(a, b)
			switch engine {
			case "auto":
			case string(primes.Sieve), string(primes.Prefix):
				plan = primes.PlanOn(primes.Engine(engine), a, b) // with its own estimate
			default:
				return usageError{fmt.Errorf("--engine must be auto, sieve or prefix, got %q", engine)}
			}
			if showPlan || dryRun {
				// The planner's tables are one machine's; a short probe of
				// both engines says how this one compares.
				speed, err := primes.MeasureSpeed(cmd.Context())
				if err != nil {
					return err
				}
				here := plan.On(speed)
				fmt.Fprintf(cmd.ErrOrStderr(), "engine %s, estimated %s on one core (this machine takes %.2f× the reference's time for the sieve, %.2f× for the prefix engine)\n",
					here.Engine, here.Estimate.Round(precision(here.Estimate)), speed.Sieve, speed.Prefix)
			}
			if dryRun {
				return nil
			}
			out, err := outputOf(cmd)
			if err != nil {
				return err
			}
			began := time.Now()
			sum, err := plan.Run(cmd.Context(), primes.Options{Threads: threads})
			if err != nil {
				return err
			}
			if out == "json" {
				return printJSON(stdout, map[string]any{"a": a, "b": b, "sum": sum.String(), "engine": plan.Engine,
					"estimateNs": plan.Estimate.Nanoseconds(), "tookNs": time.Since(began).Nanoseconds()})
			}
			fmt.Fprintln(stdout, sum)
			return nil
		},
	}
	cmd.Flags().IntVar(&threads, "threads", 0, "goroutines to use (0 = all CPUs)")
	cmd.Flags().BoolVar(&showPlan, "plan", false, "print the engine the planner chose, and its estimate, on stderr")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan as --plan does, and stop there")
	cmd.Flags().StringVar(&engine, "engine", "auto", "auto (the planner's choice), sieve or prefix")
	addOutputFlag(cmd, "text")
	return cmd
}

// precision keeps three or four significant digits of an estimate.
func precision(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return time.Nanosecond
	case d < time.Second:
		return time.Microsecond
	}
	return time.Millisecond
}

func twoBounds(_ *cobra.Command, args []string) error {
	if len(args) != 2 {
		return usageError{fmt.Errorf("takes two integers A and B, got %d arguments", len(args))}
	}
	return nil
}

// bounds parses A and B with 1 ≤ A ≤ B ≤ MaxN.
func bounds(args []string) (uint64, uint64, error) {
	a, err := parseBound("A", args[0])
	if err != nil {
		return 0, 0, err
	}
	b, err := parseBound("B", args[1])
	if err != nil {
		return 0, 0, err
	}
	if a > b {
		return 0, 0, usageError{fmt.Errorf("A must not exceed B (A=%d, B=%d)", a, b)}
	}
	return a, b, nil
}

func parseBound(name, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v < 1 || v > primes.MaxN {
		return 0, usageError{fmt.Errorf("%s must be an integer from 1 to %d, got %q", name, primes.MaxN, s)}
	}
	return v, nil
}
