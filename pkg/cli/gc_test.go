package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name  string
		files []string
		want  int64
		ok    bool
	}{
		{"v2 limit", []string{file("v2", "1073741824\n")}, 1 << 30, true},
		{"v2 max", []string{file("v2max", "max\n"), file("v1", "2147483648\n")}, 0, false},
		{"v1 behind a missing v2", []string{missing, file("v1b", "2147483648\n")}, 2 << 30, true},
		{"v1 unlimited", []string{file("v1u", "9223372036854771712\n")}, 0, false},
		{"none", []string{missing}, 0, false},
	} {
		got, ok := cgroupMemoryLimit(tc.files...)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
