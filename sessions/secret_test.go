package sessions

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"userhub/config"
)

// TestSecretFilePermissions: a session.key that its group or others may
// read is made private (0600), with a warning, and still used; a private
// one is read without a word; a new one is made private.
func TestSecretFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	tests := []struct {
		name string
		mode os.FileMode // 0: no file yet
		warn bool
	}{
		{"new", 0, false},
		{"private", 0o600, false},
		{"group readable", 0o640, true},
		{"world readable", 0o644, true},
		{"group writable", 0o620, true},
	}
	const existing = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			path := filepath.Join(cfg.DataDir, SecretFile)
			if tt.mode != 0 {
				if err := os.WriteFile(path, []byte(existing+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			secret, err := Secret(context.Background(), cfg, nil, slog.New(slog.NewTextHandler(&log, nil)))
			if err != nil || len(secret) != 32 {
				t.Fatalf("Secret: %x, %v", secret, err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := info.Mode().Perm(); perm != 0o600 {
				t.Errorf("the file is %04o afterwards, want 0600", perm)
			}
			if warned := strings.Contains(log.String(), "level=WARN") && strings.Contains(log.String(), "made private"); warned != tt.warn {
				t.Errorf("warned %v, want %v; log:\n%s", warned, tt.warn, log.String())
			}
		})
	}
}
