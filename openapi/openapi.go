// Package openapi holds the contract of userhub's HTTP API: openapi.yaml,
// an OpenAPI 3.1 document written by hand, embedded in the binary. The
// server serves it as JSON (handlers), client/ is generated from it, and
// openapitest checks the tests' requests and responses against it. It must
// not import anything of ours: it is the contract, not an implementation.
package openapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"

	_ "embed"

	"go.yaml.in/yaml/v3"
)

// YAML is the document as written.
//
//go:embed openapi.yaml
var YAML []byte

var (
	once    sync.Once
	asJSON  []byte
	jsonTag string
)

// JSON returns the document as JSON, keys in the order written, and its
// strong ETag. The document is fixed at build time, so a failure to
// convert it is a bug that TestDocumentIsJSON catches: it panics.
func JSON() (body []byte, etag string) {
	once.Do(func() {
		var err error
		if asJSON, err = ToJSON(YAML); err != nil {
			panic(fmt.Sprintf("openapi.yaml: %v", err))
		}
		sum := sha256.Sum256(asJSON)
		jsonTag = `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	})
	return asJSON, jsonTag
}

// ToJSON converts a YAML document to JSON, keeping the order of mapping
// keys (a Go map would sort them, and a reader of the JSON, or of the
// reference rendered from it, would lose the order the contract is written
// in).
func ToJSON(doc []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &root); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: want one document", n.Line)
		}
		return writeJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return fmt.Errorf("line %d: a key must be plain text", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			key, _ := json.Marshal(k.Value) // a key is text in JSON, whatever YAML made of it ("200")
			buf.Write(key)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, item); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(b)
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return nil
}
