package sessionstore

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gin-contrib/sessions"
	gsessions "github.com/gorilla/sessions"
)

// Sessions hold a few string keys with int64 or string values. The stores'
// default encoding, gob, compiles a decoder for every cookie it reads: it
// was most of the cost of an authenticated request. JSON of the same few
// values is an order of magnitude cheaper, and keeps the cookie smaller.

// valuesCodec is the securecookie.Serializer of the cookie store (session
// values) and of the Redis store's cookie (a session id).
type valuesCodec struct{}

func (valuesCodec) Serialize(src any) ([]byte, error) {
	switch v := src.(type) {
	case map[any]any:
		return encodeValues(v)
	case string:
		return json.Marshal(v)
	}
	return nil, fmt.Errorf("session codec: cannot encode %T", src)
}

func (valuesCodec) Deserialize(src []byte, dst any) error {
	switch d := dst.(type) {
	case *map[any]any:
		values, err := decodeValues(src)
		if err != nil {
			return err
		}
		*d = values
		return nil
	case *string:
		return json.Unmarshal(src, d)
	}
	return fmt.Errorf("session codec: cannot decode into %T", dst)
}

// redisValues is the Redis store's serializer of session values.
type redisValues struct{}

func (redisValues) Serialize(s *gsessions.Session) ([]byte, error) { return encodeValues(s.Values) }

func (redisValues) Deserialize(d []byte, s *gsessions.Session) error {
	values, err := decodeValues(d)
	if err == nil {
		s.Values = values
	}
	return err
}

func encodeValues(values map[any]any) ([]byte, error) {
	m := make(map[string]any, len(values))
	for k, v := range values {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("session codec: key %v is not a string", k)
		}
		switch v.(type) {
		case string, int64:
			m[key] = v
		default:
			return nil, fmt.Errorf("session codec: value of %q is a %T, not a string or int64", key, v)
		}
	}
	return json.Marshal(m)
}

func decodeValues(data []byte) (map[any]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("session codec: %w", err)
	}
	values := make(map[any]any, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			values[k] = v
		case json.Number:
			n, err := v.Int64()
			if err != nil {
				return nil, fmt.Errorf("session codec: %q is not a whole number", k)
			}
			values[k] = n
		default:
			return nil, fmt.Errorf("session codec: %q has a value of type %T", k, v)
		}
	}
	return values, nil
}

// cookieStore is gorilla's CookieStore (signed and encrypted cookies) with
// the JSON codec, as a gin-contrib/sessions Store: the same as that
// package's cookie store, which offers no way to change the codec.
type cookieStore struct {
	*gsessions.CookieStore
}

func newCookieStore(hashKey, blockKey []byte) *cookieStore {
	s := gsessions.NewCookieStore(hashKey, blockKey)
	useCodec(s.Codecs)
	return &cookieStore{s}
}

// Options implements sessions.Store.
func (c *cookieStore) Options(o sessions.Options) {
	c.CookieStore.Options = o.ToGorillaOptions()
}
