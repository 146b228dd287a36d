package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sumprimes/sumprimes/pkg/cli"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli.Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestSum(t *testing.T) {
	t.Run("PrintsTheExactSum", func(t *testing.T) {
		code, out, _ := run("sum", "1", "1000000")
		if code != 0 || out != "37550402023\n" {
			t.Fatalf("sum 1 1000000 = %d %q", code, out)
		}
	})

	t.Run("DryRunPrintsThePlanWithoutComputing", func(t *testing.T) {
		code, out, errOut := run("sum", "1", "18446744073709551615", "--dry-run")
		if code != 0 || out != "" || !strings.HasPrefix(errOut, "engine prefix, estimated ") {
			t.Fatalf("sum 1 2^64−1 --dry-run = %d %q %q, want the plan alone", code, out, errOut)
		}
	})

	t.Run("RejectsBadArgumentsWithExitCode2", func(t *testing.T) {
		for _, args := range [][]string{
			{"sum", "1"},
			{"sum", "x", "10"},
			{"sum", "0", "10"},
			{"sum", "10", "1"},
			{"sum", "-1", "10"},
			{"sum", "1", "99999999999999999999"},
			{"sum", "1", "18446744073709551616"},
		} {
			code, out, errOut := run(args...)
			if code != 2 || out != "" || !strings.HasPrefix(errOut, "sumprimes: ") {
				t.Errorf("%v = exit %d, stdout %q, stderr %q; want exit 2 and a message", args, code, out, errOut)
			}
		}
	})
}

func TestRoles(t *testing.T) {
	t.Run("StopAtStartupOnInvalidConfigurationNamingTheKey", func(t *testing.T) {
		t.Setenv("SUMPRIMES_KAFKA_PARTITIONS", "-3")
		for _, role := range []string{"api", "worker", "janitor", "dev"} {
			code, _, errOut := run(role)
			if code != 2 || !strings.Contains(errOut, "kafka.partitions") {
				t.Errorf("%s = exit %d, stderr %q; want exit 2 naming kafka.partitions", role, code, errOut)
			}
		}
	})

	t.Run("RejectUnknownSubcommands", func(t *testing.T) {
		if code, _, _ := run("nope"); code != 2 {
			t.Fatalf("unknown subcommand exit = %d, want 2", code)
		}
	})
}
