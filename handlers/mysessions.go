package handlers

import (
	"net/http"
	"strconv"
	"time"
	"userhub/auth"
	"userhub/models"

	"github.com/gin-gonic/gin"
)

// A user's own sessions: GET and DELETE /api/v1/me/sessions, and the page
// /account/sessions.

type sessionJSON struct {
	ID         string    `json:"id"`
	Current    bool      `json:"current"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	IP         string    `json:"ip"`
	Device     string    `json:"device"`
}

// apiMySessions: GET /api/v1/me/sessions -> {"sessions": [...]}, newest
// first, the request's own with "current": true.
func (h *Handlers) apiMySessions(c *gin.Context) error {
	list, err := h.sessions.Sessions(c)
	if err != nil {
		return err
	}
	out := make([]sessionJSON, len(list))
	for i, s := range list {
		out[i] = sessionJSON{ID: s.ID, Current: s.Current, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeen, IP: s.IP, Device: s.Device}
	}
	writeJSON(c, http.StatusOK, typeJSON, gin.H{"sessions": out})
	return nil
}

var errOthersOnly = &requestError{http.StatusBadRequest, "others_required", "to end every session but this one, send DELETE /api/v1/me/sessions?others=true"}

// errSessionRequired refuses a token what only a person with a session
// does: logging out, changing the password, ending sessions (a token is
// revoked with DELETE /api/v1/tokens/:id).
var errSessionRequired = &requestError{http.StatusForbidden, "session_required", "this needs a person logged in with a session, not a token"}

// sessionOnly refuses token principals (see errSessionRequired).
func (h *Handlers) sessionOnly(c *gin.Context) {
	if p, ok := auth.From(c); ok && p.Method == auth.MethodToken {
		h.fail(c, errSessionRequired)
		return
	}
	c.Next()
}

// endOtherSessions ends every session of the request's user but its own,
// listed or not (sessions older than the list, made by an older version):
// the user's session version moves on, which ends them all, and the
// request's own session is issued anew under the new version. It returns
// how many the list showed.
func (h *Handlers) endOtherSessions(c *gin.Context) (int, error) {
	list, err := h.sessions.Sessions(c)
	if err != nil {
		return 0, err
	}
	others := 0
	for _, s := range list {
		if !s.Current {
			others++
		}
	}
	p := principal(c)
	u, err := h.accounts.EndSessions(c.Request.Context(), p, p.User.ID)
	if err != nil {
		return 0, err
	}
	return others, h.sessions.Reissue(c, u)
}

// apiEndMySessions: DELETE /api/v1/me/sessions?others=true -> 204: every
// session of the user but the request's own has ended.
func (h *Handlers) apiEndMySessions(c *gin.Context) error {
	if c.Query("others") != "true" {
		return errOthersOnly
	}
	if _, err := h.endOtherSessions(c); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// apiEndMySession: DELETE /api/v1/me/sessions/:id -> 204: that session has
// ended (the request's own: a logout).
func (h *Handlers) apiEndMySession(c *gin.Context) error {
	if err := h.endListedSession(c); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// endListedSession ends the user's session :id, and records it.
func (h *Handlers) endListedSession(c *gin.Context) error {
	p := principal(c)
	if err := h.sessions.EndSession(c, c.Param("id")); err != nil {
		return err
	}
	h.accounts.Record(c.Request.Context(), p, models.AuditSessionEnded, p.User, nil)
	return nil
}

// sessionsPage is what account_sessions.html shows.
type sessionsPage struct {
	Sessions []sessionRow
	Ended    int  // sessions just ended (the notice), -1 for none
	Others   bool // whether there are other sessions to end
}

type sessionRow struct {
	ID, Created, LastSeen, IP, Device string
	Current                           bool
}

// sessionsPageGet: GET /account/sessions.
func (h *Handlers) sessionsPageGet(c *gin.Context) error {
	list, err := h.sessions.Sessions(c)
	if err != nil {
		return err
	}
	page := sessionsPage{Ended: -1}
	if n, err := strconv.Atoi(c.Query("ended")); err == nil && n >= 0 {
		page.Ended = n
	}
	for _, s := range list {
		page.Sessions = append(page.Sessions, sessionRow{ID: s.ID, Created: displayTime(s.CreatedAt), LastSeen: displayTime(s.LastSeen), IP: s.IP, Device: s.Device, Current: s.Current})
		page.Others = page.Others || !s.Current
	}
	return h.renderPage(c, http.StatusOK, "account_sessions.html", "account", page)
}

// sessionsPageEnd: POST /account/sessions/:id/end -> back to the page.
func (h *Handlers) sessionsPageEnd(c *gin.Context) error {
	if err := h.endListedSession(c); err != nil {
		return err
	}
	if _, ok := auth.User(c); !ok { // it was this one: logged out
		c.Redirect(http.StatusSeeOther, "/login?bye=1")
		return nil
	}
	c.Redirect(http.StatusSeeOther, "/account/sessions?ended=1")
	return nil
}

// sessionsPageEndOthers: POST /account/sessions/end-others -> back to the page.
func (h *Handlers) sessionsPageEndOthers(c *gin.Context) error {
	n, err := h.endOtherSessions(c)
	if err != nil {
		return err
	}
	c.Redirect(http.StatusSeeOther, "/account/sessions?ended="+strconv.Itoa(n))
	return nil
}
