package openapi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"go.yaml.in/yaml/v3"

	"userhub/openapi"
)

// TestOpenAPIDocumentIsValid reads the document with libopenapi, as the
// tests' validator does, and checks it against the OpenAPI 3.1 schema.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, err := libopenapi.NewDocument(openapi.YAML)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("OpenAPI version %s, want 3.1", v)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("build the model: %v", err)
	}
	if n := model.Model.Paths.PathItems.Len(); n == 0 {
		t.Fatal("no paths")
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s: %s (line %d)", e.Message, e.Reason, e.SpecLine)
			for _, s := range e.SchemaValidationErrors {
				t.Errorf("  %s at %s", s.Reason, s.KeywordLocation)
			}
		}
	}
}

// TestOpenAPISpecValidator checks the document, and the JSON the server
// serves, with a second, independent validator: Python's
// openapi-spec-validator (Debian 13: python3-openapi-spec-validator).
func TestOpenAPISpecValidator(t *testing.T) {
	tool, err := exec.LookPath("openapi-spec-validator")
	if err != nil {
		t.Skip("openapi-spec-validator not installed (apt-get install python3-openapi-spec-validator); TestOpenAPIDocumentIsValid checks the document with libopenapi")
	}
	body, _ := openapi.JSON()
	asJSON := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(asJSON, body, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"openapi.yaml", asJSON} {
		out, err := exec.Command(tool, file).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("OK")) {
			t.Errorf("openapi-spec-validator %s: %v\n%s", filepath.Base(file), err, out)
		}
	}
}

// TestOpenAPIJSON: the JSON served says what the YAML says, in its order.
func TestOpenAPIJSON(t *testing.T) {
	body, etag := openapi.JSON()
	var fromJSON, fromYAML any
	if err := json.Unmarshal(body, &fromJSON); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if err := yaml.Unmarshal(openapi.YAML, &fromYAML); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(fromJSON)
	b, err := json.Marshal(fromYAML)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the JSON differs from the YAML")
	}
	if !bytes.HasPrefix(body, []byte(`{"openapi":"3.1.0","info":{"title":"userhub"`)) {
		t.Errorf("the JSON does not keep the YAML's order: %.80s", body)
	}
	if len(etag) < 10 || etag[0] != '"' {
		t.Errorf("ETag %q", etag)
	}
}

// TestOpenAPIToJSON: what YAML makes of scalars comes out as JSON's.
func TestOpenAPIToJSON(t *testing.T) {
	for in, want := range map[string]string{
		"a: 1\nb: x\n":                     `{"a":1,"b":"x"}`,
		"\"200\": {x: [true, null, 1.5]}":  `{"200":{"x":[true,null,1.5]}}`,
		"200: ok":                          `{"200":"ok"}`,
		"z: 1\na: 2\n":                     `{"z":1,"a":2}`,
		"t: 2026-12-01T00:00:00Z":          `{"t":"2026-12-01T00:00:00Z"}`,
		"s: 'it''s'\nd: |\n  two\n  lines": `{"s":"it's","d":"two\nlines"}`,
	} {
		got, err := openapi.ToJSON([]byte(in))
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if string(bytes.TrimSpace(got)) != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
	if _, err := openapi.ToJSON([]byte("a: [1")); err == nil {
		t.Error("malformed YAML converted")
	}
}
