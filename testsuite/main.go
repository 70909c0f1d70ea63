// Command testsuite is what `make test` runs: go test over the whole tree,
// with the services on this machine found on their own (PostgreSQL and
// Redis on their usual loopback ports, axe-core where .ci/run installs it,
// unless USERHUB_TEST_* names them), the output of failing tests shown, and
// at the end a summary naming each optional suite as ran or skipped, and
// why. With CI=true a skipped optional suite fails the run: CI must
// exercise them all.
//
//	go run ./testsuite [go test flags]
package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// A service the optional suites need, found where a machine of ours runs it.
const (
	postgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	redisAddr   = "127.0.0.1:6379"
)

// axePath is where `npm install --prefix e2e/testdata/axe axe-core@...`
// puts axe-core, for TestAxe (.ci/run installs it there; the directory is
// git-ignored; TestAxe's skip message gives the command).
const axePath = "e2e/testdata/axe/node_modules/axe-core/axe.min.js"

func main() {
	env := os.Environ()
	env = append(env, findServices(os.Stdout)...)
	cmd := exec.Command("go", append([]string{"test", "-count=1", "-timeout", "20m", "-json"}, append(os.Args[1:], "./...")...)...)
	cmd.Env, cmd.Stderr = env, os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsuite:", err)
		os.Exit(1)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testsuite:", err)
		os.Exit(1)
	}
	run := readEvents(out, os.Stdout)
	testErr := cmd.Wait()
	complete := run.summary(os.Stdout, optionalSuites)
	switch {
	case testErr != nil:
		os.Exit(1)
	case !complete && os.Getenv("CI") == "true":
		fmt.Println("CI=true: every optional suite must run")
		os.Exit(1)
	}
}

// findServices returns the USERHUB_TEST_* variables for the services that
// answer on this machine and are not named already, and says what it found.
func findServices(w io.Writer) []string {
	var env []string
	if os.Getenv("USERHUB_TEST_POSTGRES_DSN") == "" {
		if err := pingPostgres(postgresDSN); err == nil {
			env = append(env, "USERHUB_TEST_POSTGRES_DSN="+postgresDSN)
			fmt.Fprintf(w, "testsuite: PostgreSQL answers at 127.0.0.1:5432: its suites run\n")
		} else {
			fmt.Fprintf(w, "testsuite: no PostgreSQL at 127.0.0.1:5432 (%v): its suites skip; USERHUB_TEST_POSTGRES_DSN names another\n", err)
		}
	}
	if os.Getenv("USERHUB_TEST_REDIS_ADDR") == "" {
		if err := pingRedis(redisAddr); err == nil {
			env = append(env, "USERHUB_TEST_REDIS_ADDR="+redisAddr)
			fmt.Fprintf(w, "testsuite: Redis answers at %s: its suites run\n", redisAddr)
		} else {
			fmt.Fprintf(w, "testsuite: no Redis at %s (%v): its suites skip; USERHUB_TEST_REDIS_ADDR names another\n", redisAddr, err)
		}
	}
	if os.Getenv("USERHUB_TEST_AXE") == "" {
		if abs, err := filepath.Abs(axePath); err == nil && fileExists(abs) {
			env = append(env, "USERHUB_TEST_AXE="+abs)
			fmt.Fprintf(w, "testsuite: axe-core at %s: TestAxe runs\n", axePath)
		} else {
			fmt.Fprintf(w, "testsuite: no axe-core at %s: TestAxe skips; USERHUB_TEST_AXE names another\n", axePath)
		}
	}
	return env
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func pingPostgres(dsn string) error {
	db, err := sql.Open("pgx", dsn+"&connect_timeout=2")
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

func pingRedis(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	reply := make([]byte, 7)
	if _, err := io.ReadFull(conn, reply); err != nil || !strings.HasPrefix(string(reply), "+PONG") {
		return fmt.Errorf("no PONG: %q %v", reply, err)
	}
	return nil
}
