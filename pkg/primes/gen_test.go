package primes_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// turns.go is generated; a change to gen_turns.go must come with the file
// it writes.
func TestTurnsMatchItsGenerator(t *testing.T) {
	t.Parallel()
	fresh := filepath.Join(t.TempDir(), "turns.go")
	if out, err := exec.Command("go", "run", "gen_turns.go", "-o", fresh).CombinedOutput(); err != nil {
		t.Fatalf("go run gen_turns.go: %v\n%s", err, out)
	}
	want, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("turns.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("turns.go differs from what gen_turns.go writes: run go generate ./pkg/primes")
	}
}
