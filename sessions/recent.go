package sessions

import (
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/boj/redistore"
	ginsessions "github.com/gin-contrib/sessions"
	gsessions "github.com/gorilla/sessions"
)

// recentFor is how long a session read from Redis is answered from
// memory. Whether the session is still good is decided on every request
// from the database's data anyway, which every instance hears about
// (logouts are revocations, password changes and suspensions move the
// user's session version, deletions remove the user: see
// Manager.check); what Redis holds beyond that is when the session was
// last seen, written at most once per refresh interval. So a second-old
// copy changes nothing but can spare a Redis round trip on nearly every
// request.
const recentFor = time.Second

// maxRecent bounds the sessions remembered; a full table starts over.
const maxRecent = 1 << 16

// recentSessions is the Redis session store with the sessions it read in
// the last second remembered, by cookie. Saving a session (a renewal, a
// logout, an expiry) forgets it at once, in this process.
type recentSessions struct {
	ginsessions.Store
	redis *redistore.RediStore

	mu       sync.Mutex
	byCookie map[string]recentSession
	byID     map[string]string // session id -> cookie value
}

type recentSession struct {
	id     string
	values map[any]any
	read   time.Time
}

func newRecentSessions(store ginsessions.Store, redis *redistore.RediStore) *recentSessions {
	return &recentSessions{Store: store, redis: redis, byCookie: map[string]recentSession{}, byID: map[string]string{}}
}

// New implements gorilla's sessions.Store.
func (s *recentSessions) New(r *http.Request, name string) (*gsessions.Session, error) {
	cookie, err := r.Cookie(name)
	if err != nil {
		return s.Store.New(r, name)
	}
	s.mu.Lock()
	e, ok := s.byCookie[cookie.Value]
	s.mu.Unlock()
	if ok && time.Since(e.read) < recentFor {
		sess := gsessions.NewSession(s, name)
		options := *s.redis.Options
		sess.Options = &options
		sess.ID, sess.Values, sess.IsNew = e.id, maps.Clone(e.values), false
		return sess, nil
	}
	sess, err := s.Store.New(r, name)
	if err == nil && !sess.IsNew && sess.ID != "" {
		s.mu.Lock()
		if len(s.byCookie) >= maxRecent {
			clear(s.byCookie)
			clear(s.byID)
		}
		s.byCookie[cookie.Value] = recentSession{id: sess.ID, values: maps.Clone(sess.Values), read: time.Now()}
		s.byID[sess.ID] = cookie.Value
		s.mu.Unlock()
	}
	return sess, err
}

// Save implements gorilla's sessions.Store: the session is written to
// Redis (or deleted) and forgotten here.
func (s *recentSessions) Save(r *http.Request, w http.ResponseWriter, sess *gsessions.Session) error {
	s.mu.Lock()
	if cookie, ok := s.byID[sess.ID]; ok {
		delete(s.byCookie, cookie)
		delete(s.byID, sess.ID)
	}
	s.mu.Unlock()
	return s.Store.Save(r, w, sess)
}
