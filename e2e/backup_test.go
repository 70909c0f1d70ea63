package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBackupUnderLoad: `userhub backup` copies the database while users
// are being created; `userhub restore` refuses a data directory a server
// uses, and restores into a fresh one, where every user whose creation
// was acknowledged before the backup began is there, and the database
// passes SQLite's integrity check.
func TestBackupUnderLoad(t *testing.T) {
	p := start(t)
	admin := p.setup(t)
	run := func(dataDir string, args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = []string{"USERHUB_DATA_DIR=" + dataDir, "PATH=" + os.Getenv("PATH")}
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	var mu sync.Mutex
	var acknowledged []string
	stop := make(chan struct{})
	var load sync.WaitGroup
	load.Go(func() {
		for i := 0; i < 2000; i++ { // bounded: the test stops it sooner
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("user%04d", i)
			r := send(admin, 10*time.Second, "POST", p.base+"/api/v1/users", jsonCT, `{"name":"`+name+`"}`)
			if r.status == http.StatusCreated {
				mu.Lock()
				acknowledged = append(acknowledged, name)
				mu.Unlock()
			}
		}
	})
	acked := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acknowledged...)
	}
	for deadline := time.Now().Add(30 * time.Second); len(acked()) < 50; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the load made fewer than 50 users in 30 s")
		}
	}
	before := acked()
	file := filepath.Join(t.TempDir(), "userhub-backup.db")
	out, err := run(p.dataDir, "backup", file)
	if err != nil || !strings.Contains(out, "backed up") {
		t.Fatalf("userhub backup: %v\n%s", err, out)
	}
	time.Sleep(200 * time.Millisecond) // writes go on after the backup
	close(stop)
	load.Wait()
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the backup file: %v, mode %v; want 0600 (it holds password hashes)", err, info.Mode().Perm())
	}

	if out, err := run(p.dataDir, "restore", file); err == nil || !strings.Contains(out, "a server is using") {
		t.Errorf("restore over a data directory in use: %v\n%s", err, out)
	}
	fresh := t.TempDir()
	out, err = run(fresh, "restore", file)
	if err != nil || !strings.Contains(out, "integrity check ok") {
		t.Fatalf("userhub restore into a fresh directory: %v\n%s", err, out)
	}
	q := start(t, "USERHUB_DATA_DIR="+fresh)
	c := newClient()
	if r := send(c, 10*time.Second, "POST", q.base+"/api/v1/login", jsonCT, `{"name":"kim","password":"`+adminPassword+`"}`); r.status != http.StatusOK {
		t.Fatalf("login on the restored database: %v", r)
	}
	restored := userNames(t, c, q.base)
	missing := 0
	for _, name := range before {
		if !restored[name] {
			missing++
		}
	}
	t.Logf("%d users acknowledged before the backup, %d in all; %d users restored", len(before), len(acked()), len(restored))
	if missing > 0 {
		t.Errorf("%d users acknowledged before the backup are missing after the restore", missing)
	}
}
