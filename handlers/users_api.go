package handlers

import (
	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/models"
)

// The versioned JSON API over users: /api/v1/users.

const (
	apiDefaultLimit = 50
	apiMaxLimit     = 500
)

// apiListUsers: GET /api/v1/users?limit=&q=&role=&sort=&cursor= ->
// {"users": [...], "total": n, "prev_cursor": "...", "next_cursor": "..."}.
// total counts the users q and role select; for a search it stops past
// models.CountLimit (and says so in total_is_lower_bound).
func (h *Handlers) apiListUsers(c *gin.Context) error {
	q, page, err := h.listUsers(c, apiDefaultLimit, apiMaxLimit, models.OrderOldest)
	if err != nil {
		return err
	}
	total, err := h.store.CountUsers(c.Request.Context(), q.Filter)
	if err != nil {
		return err
	}
	body := struct {
		Users      []userJSON `json:"users"`
		Total      int        `json:"total"`
		AtLeast    bool       `json:"total_is_lower_bound,omitempty"`
		PrevCursor string     `json:"prev_cursor,omitempty"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}{Users: make([]userJSON, page.Len()), Total: total}
	if q.Prefix != "" && total > models.CountLimit {
		body.Total, body.AtLeast = models.CountLimit, true
	}
	for i, u := range page.All() {
		body.Users[i] = toJSON(u)
	}
	body.PrevCursor, body.NextCursor = setPageLinks(c, q, page, apiDefaultLimit, models.OrderOldest)
	writeJSONIfChanged(c, body, true)
	return nil
}

// apiCreateUser: POST /api/v1/users {"name", "role"?, "password"?} -> 201.
func (h *Handlers) apiCreateUser(c *gin.Context) error {
	var in struct {
		Name     *string     `json:"name" required:"true"`
		Role     models.Role `json:"role"`
		Password *string     `json:"password"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	return h.createUser(c, accounts.NewAccount{Name: *in.Name, Role: in.Role, Password: in.Password})
}

// apiGetUser: GET /api/v1/users/:id, with a strong ETag (If-None-Match
// -> 304).
func (h *Handlers) apiGetUser(c *gin.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	u, err := h.store.User(c.Request.Context(), id)
	if err != nil {
		return err
	}
	writeJSONIfChanged(c, toJSON(u), false)
	return nil
}

// apiReplaceUser: PUT /api/v1/users/:id {"name", "role"}, both required.
func (h *Handlers) apiReplaceUser(c *gin.Context) error {
	var in struct {
		Name *string      `json:"name" required:"true"`
		Role *models.Role `json:"role" required:"true"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	return h.updateUser(c, accounts.Change{Name: in.Name, Role: in.Role})
}
