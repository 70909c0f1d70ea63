package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"userhub/models"
)

// decodeJSON reads the request body into dst, a pointer to a struct whose
// json tags list every field the route accepts; a pointer field tagged
// `json:"name" required:"true"` must be given, and not null. It refuses, each
// with its own status: a body that is not JSON (415), malformed JSON
// (400), and unknown, mistyped or missing fields (422, naming every such
// field at once). Refusing unknown fields is what keeps a client from setting
// what the route does not offer ("role" where only "name" may change).
func decodeJSON(c *gin.Context, dst any) error {
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return errUnsupportedCT
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		return errUnreadableBody
	}
	// encoding/json would take bytes that are not UTF-8 and store U+FFFD
	// in their place: refuse them instead (RFC 8259 8.1).
	if !utf8.Valid(body) {
		return errNotUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		return classifyJSONError(err)
	}
	if fields == nil { // the body was "null"
		return errNotObject
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errTrailingData
	}
	return assignFields(fields, dst)
}

// classifyJSONError says what is wrong with a client's JSON.
func classifyJSONError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return errEmptyBody
	case errors.As(err, &syntax):
		return errMalformedJSON(fmt.Sprintf("%v (at byte %d)", syntax, syntax.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errMalformedJSON("the body ends in the middle of a value")
	case errors.As(err, &typ):
		return errNotObject
	default:
		return errMalformedJSON(err.Error())
	}
}

// assignFields decodes each JSON member into the struct field with the same
// json tag, collecting every unknown, mistyped or missing field.
func assignFields(fields map[string]json.RawMessage, dst any) error {
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	index := make(map[string]int, t.NumField())
	var required []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		index[name] = i
		if t.Field(i).Tag.Get("required") == "true" {
			required = append(required, name)
		}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report problems in a stable order
	var verr models.ValidationError
	for _, k := range keys {
		i, ok := index[k]
		if !ok {
			verr.Add(k, "unknown_field", "this field is not accepted here")
			continue
		}
		f := v.Field(i)
		if err := json.Unmarshal(fields[k], f.Addr().Interface()); err != nil {
			verr.Add(k, "invalid_type", "must be "+describeType(f.Type()))
		}
	}
	for _, name := range required {
		if f := v.Field(index[name]); f.IsNil() && !verr.Has(name) {
			verr.AddRequired(name)
		}
	}
	return verr.Err()
}

// describeType names a field's JSON type for error messages.
func describeType(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	default:
		return "a " + t.Kind().String()
	}
}
