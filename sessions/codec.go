package sessions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sync"

	ginsessions "github.com/gin-contrib/sessions"
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
//
// It also remembers what it decoded, by cookie name and value: a browser sends the
// same cookie with every request, and checking its signature and
// decrypting it again each time was a third of the cost of an
// authenticated request. The content of a cookie value never changes (a
// changed session is a new cookie), so a remembered one is never stale;
// the checks that can end a session (timeouts, revocation, the user's
// session version) run on every request all the same.
type cookieStore struct {
	*gsessions.CookieStore

	mu      sync.Mutex
	decoded map[string]map[any]any
}

// maxDecoded bounds the remembered cookies; when full, it starts over.
const maxDecoded = 10000

func newCookieStore(hashKey, blockKey []byte) *cookieStore {
	s := gsessions.NewCookieStore(hashKey, blockKey)
	useCodec(s.Codecs)
	return &cookieStore{CookieStore: s, decoded: map[string]map[any]any{}}
}

// New implements ginsessions.Store: the session in the request's cookie,
// decoded once per cookie value.
func (c *cookieStore) New(r *http.Request, name string) (*gsessions.Session, error) {
	cookie, err := r.Cookie(name)
	if err != nil {
		return c.CookieStore.New(r, name) // no cookie: a new, empty session
	}
	// By name and value: the signature covers the name, so a value made
	// for one cookie name must not be taken under another (__Host-).
	key := name + "\x00" + cookie.Value
	c.mu.Lock()
	values, ok := c.decoded[key]
	c.mu.Unlock()
	if ok {
		s := gsessions.NewSession(c, name)
		opts := *c.CookieStore.Options
		s.Options = &opts
		s.Values = maps.Clone(values) // the caller may change its copy
		return s, nil
	}
	s, err := c.CookieStore.New(r, name)
	if err == nil && !s.IsNew {
		c.mu.Lock()
		if len(c.decoded) >= maxDecoded {
			clear(c.decoded)
		}
		c.decoded[key] = maps.Clone(s.Values)
		c.mu.Unlock()
	}
	return s, err
}

// Options implements ginsessions.Store.
func (c *cookieStore) Options(o ginsessions.Options) {
	c.CookieStore.Options = o.ToGorillaOptions()
}
