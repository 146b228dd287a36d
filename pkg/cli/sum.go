package cli

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

func sumCommand(stdout io.Writer) *cobra.Command {
	var threads int
	cmd := &cobra.Command{
		Use:   "sum A B",
		Short: "Compute the sum of the primes in [A, B] locally and print it",
		Example: `  sumprimes sum 1 1000000
  37550402023`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError{fmt.Errorf("sum takes two integers A and B, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := parseBound("A", args[0])
			if err != nil {
				return err
			}
			b, err := parseBound("B", args[1])
			if err != nil {
				return err
			}
			if a > b {
				return usageError{fmt.Errorf("A must not exceed B (A=%d, B=%d)", a, b)}
			}
			if threads < 0 {
				return usageError{fmt.Errorf("--threads must not be negative")}
			}
			sum, err := primes.SumRange(cmd.Context(), a, b, primes.Options{Threads: threads})
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, sum)
			return nil
		},
	}
	cmd.Flags().IntVar(&threads, "threads", 0, "goroutines to use (0 = all CPUs)")
	return cmd
}

func parseBound(name, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v < 1 || v > primes.MaxN {
		return 0, usageError{fmt.Errorf("%s must be an integer from 1 to %d, got %q", name, primes.MaxN, s)}
	}
	return v, nil
}
