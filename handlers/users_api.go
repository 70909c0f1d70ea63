package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/models"
)

// The versioned JSON API over users: /api/v1/users.

const (
	apiDefaultLimit = 50
	apiMaxLimit     = 500
)

// apiListUsers: GET /api/v1/users?limit=&cursor= -> {"users": [...], "next_cursor": "..."}.
func (h *Handlers) apiListUsers(c *gin.Context) error {
	q, page, err := h.listUsers(c, apiDefaultLimit, apiMaxLimit, false)
	if err != nil {
		return err
	}
	body := struct {
		Users      []userJSON `json:"users"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}{Users: make([]userJSON, page.Len())}
	for i, u := range page.All() {
		body.Users[i] = toJSON(u)
	}
	body.NextCursor = setNextLink(c, q, page)
	writeJSON(c, http.StatusOK, typeJSON, body)
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

// apiGetUser: GET /api/v1/users/:id.
func (h *Handlers) apiGetUser(c *gin.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	u, err := h.store.User(c.Request.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(c, http.StatusOK, typeJSON, toJSON(u))
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
