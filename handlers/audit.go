package handlers

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"userhub/models"
)

// The audit log, for administrators: GET /api/v1/audit and the page
// /admin/audit. Both read the same filters from the query: actor and
// target (names, as recorded), action, since and until (RFC 3339, or a
// date: the page's date fields, in UTC), cursor and limit.

const auditDefaultLimit = 50

// maxAuditName bounds the name filters: a failed login records the name
// typed, cut to 64 characters and an ellipsis.
const maxAuditName = 2 * models.MaxNameLength

func auditParams(c *gin.Context) (models.AuditQuery, error) {
	q := models.AuditQuery{Limit: auditDefaultLimit, Actor: c.Query("actor"), Target: c.Query("target"), Action: c.Query("action")}
	var verr models.ValidationError
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > models.MaxAuditPage {
			verr.Add("limit", "out_of_range", fmt.Sprintf("limit must be a whole number from 1 to %d", models.MaxAuditPage))
		}
		q.Limit = n
	}
	for _, f := range []struct{ field, value string }{{"actor", q.Actor}, {"target", q.Target}} {
		if !nameLike(f.value) || utf8.RuneCountInString(f.value) > maxAuditName {
			verr.Add(f.field, "invalid_name", fmt.Sprintf("%s must be a name: text of at most %d characters", f.field, maxAuditName))
		}
	}
	if q.Action != "" && !slices.Contains(models.AuditActions, q.Action) {
		verr.Add("action", "invalid_action", "action must be one of the actions the audit log records (see the API reference)")
	}
	var err error
	if q.Since, err = auditTime(c.Query("since"), false); err != nil {
		verr.Add("since", "invalid_time", "since must be a time (RFC 3339, e.g. 2026-12-01T09:00:00Z) or a date (2026-12-01)")
	}
	if q.Until, err = auditTime(c.Query("until"), true); err != nil {
		verr.Add("until", "invalid_time", "until must be a time (RFC 3339, e.g. 2026-12-01T18:00:00Z) or a date (2026-12-01, the whole day)")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		verr.Add("until", "invalid_time", "until must be later than since")
	}
	if s, ok := c.GetQuery("cursor"); ok {
		b, err := base64.RawURLEncoding.DecodeString(s)
		id, perr := strconv.ParseInt(string(b), 10, 64)
		if err != nil || perr != nil || id < 1 {
			verr.Add("cursor", "invalid_cursor", "cursor must be a value taken from a previous page (its Link header or next_cursor)")
		}
		q.Before = id
	}
	return q, verr.Err()
}

// auditTime reads a time filter: RFC 3339, or a date in UTC (the day's
// start, or with endOfDay the next day's: until a date takes the whole
// day in). "" is no bound.
func auditTime(s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, err
	}
	if endOfDay {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// auditCursor is where the page after entries starts.
func auditCursor(entries []models.AuditEntry, more bool) string {
	if !more || len(entries) == 0 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(entries[len(entries)-1].ID, 10)))
}

// auditPageURL is the page of the log at cursor ("": the first), with
// the request's filters.
func auditPageURL(c *gin.Context, cursor string) string {
	v := url.Values{}
	for _, k := range []string{"actor", "target", "action", "since", "until", "limit"} {
		if s := c.Query(k); s != "" {
			v.Set(k, s)
		}
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if len(v) == 0 {
		return c.Request.URL.Path
	}
	return c.Request.URL.Path + "?" + v.Encode()
}

func (h *Handlers) auditLog(c *gin.Context) (models.AuditQuery, []models.AuditEntry, string, error) {
	q, err := auditParams(c)
	if err != nil {
		return q, nil, "", err
	}
	entries, more, err := h.accounts.AuditLog(c.Request.Context(), principal(c), q)
	return q, entries, auditCursor(entries, more), err
}

type auditEntryJSON struct {
	ID         int64             `json:"id"`
	At         time.Time         `json:"at"`
	Action     string            `json:"action"`
	ActorID    *int64            `json:"actor_id"`
	ActorName  string            `json:"actor_name"`
	TargetID   *int64            `json:"target_id"`
	TargetName string            `json:"target_name"`
	ClientIP   string            `json:"client_ip"`
	RequestID  string            `json:"request_id"`
	Details    map[string]string `json:"details"`
}

// AuditEntryJSON is an entry as the API and the export write it.
func AuditEntryJSON(e models.AuditEntry) any {
	id := func(n int64) *int64 {
		if n == 0 {
			return nil
		}
		return &n
	}
	details := e.Details
	if details == nil {
		details = map[string]string{}
	}
	return auditEntryJSON{ID: e.ID, At: e.At, Action: e.Action, ActorID: id(e.ActorID), ActorName: e.ActorName,
		TargetID: id(e.TargetID), TargetName: e.TargetName, ClientIP: e.ClientIP, RequestID: e.RequestID, Details: details}
}

// apiAudit: GET /api/v1/audit -> {"entries": [...], "next_cursor"?},
// newest first (administrators).
func (h *Handlers) apiAudit(c *gin.Context) error {
	_, entries, next, err := h.auditLog(c)
	if err != nil {
		return err
	}
	body := struct {
		Entries    []any  `json:"entries"`
		NextCursor string `json:"next_cursor,omitempty"`
	}{Entries: make([]any, len(entries)), NextCursor: next}
	for i, e := range entries {
		body.Entries[i] = AuditEntryJSON(e)
	}
	if next != "" {
		c.Header("Link", "<"+auditPageURL(c, next)+`>; rel="next"`)
	}
	c.Header("Cache-Control", "no-store")
	writeJSON(c, http.StatusOK, typeJSON, body)
	return nil
}

// auditPage is what admin_audit.html shows.
type auditPage struct {
	Query   models.AuditQuery
	Since   string // the date fields as typed
	Until   string
	Actions []string
	Rows    []auditRow
	// First is the link to the newest page (on a later page), Next to the
	// page after this one; "" for none.
	First, Next string
}

type auditRow struct {
	At, Action, Actor, Target, IP, RequestID string
	Details                                  []auditDetail
}

type auditDetail struct{ Key, Value string }

// withID shows a user's name with their id: a name can be anyone's (a
// user may name themselves "(operator)", or take a deleted user's name);
// an id is one account's.
func withID(name string, id int64) string {
	if id == 0 {
		return name
	}
	return name + " #" + strconv.FormatInt(id, 10)
}

// auditPageGet: GET /admin/audit.
func (h *Handlers) auditPageGet(c *gin.Context) error {
	q, entries, next, err := h.auditLog(c)
	if err != nil {
		return err
	}
	page := auditPage{Query: q, Since: c.Query("since"), Until: c.Query("until"), Actions: models.AuditActions}
	if next != "" {
		page.Next = auditPageURL(c, next)
	}
	if q.Before > 0 {
		page.First = auditPageURL(c, "")
	}
	for _, e := range entries {
		row := auditRow{At: e.At.Format("2006-01-02 15:04:05") + " UTC", Action: e.Action, Actor: withID(e.ActorName, e.ActorID),
			Target: withID(e.TargetName, e.TargetID), IP: e.ClientIP, RequestID: e.RequestID}
		for _, k := range slices.Sorted(maps.Keys(e.Details)) {
			row.Details = append(row.Details, auditDetail{k, e.Details[k]})
		}
		page.Rows = append(page.Rows, row)
	}
	return h.renderPage(c, http.StatusOK, "admin_audit.html", "audit", page)
}
