package client

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestOpenAPIGeneratedClientIsCurrent regenerates the client from the contract,
// as go:generate does, into a temporary directory, and fails when the
// committed client.gen.go differs: the document changed and nobody ran
// `go generate ./client`. It builds oapi-codegen (from the module proxy or
// the module cache) the first time.
func TestOpenAPIGeneratedClientIsCurrent(t *testing.T) {
	src, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	directive := regexp.MustCompile(`(?m)^//go:generate go run (\S+) -config oapi-codegen.yaml ../openapi/openapi.yaml$`).FindSubmatch(src)
	if directive == nil {
		t.Fatal("generate.go has no go:generate directive of the form this test runs")
	}
	config, _ := filepath.Abs("oapi-codegen.yaml")
	spec, _ := filepath.Abs("../openapi/openapi.yaml")
	dir := t.TempDir() // the config names its output relative to the working directory
	cmd := exec.Command("go", "run", string(directive[1]), "-config", config, spec)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, out)
	}
	fresh, err := os.ReadFile(filepath.Join(dir, "client.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, committed) {
		t.Fatal("client/client.gen.go is not what openapi/openapi.yaml generates: run go generate ./client, and commit the result")
	}
}
