package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// The versioned JSON API over users: /api/v1/users.

const (
	apiDefaultLimit = 50
	apiMaxLimit     = 500
)

// apiListUsers: GET /api/v1/users?limit=&cursor= -> {"users": [...], "next_cursor": "..."}.
func (h *Handlers) apiListUsers(c *gin.Context) {
	q, page, ok := h.listUsers(c, apiDefaultLimit, apiMaxLimit, false)
	if !ok {
		return
	}
	body := struct {
		Users      []userJSON `json:"users"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}{Users: make([]userJSON, len(page.Users))}
	for i, u := range page.Users {
		body.Users[i] = toJSON(u)
	}
	body.NextCursor = setNextLink(c, page, q.Limit)
	writeJSON(c, http.StatusOK, typeJSON, body)
}

// apiCreateUser: POST /api/v1/users {"name", "role", "password"} -> 201.
func (h *Handlers) apiCreateUser(c *gin.Context) {
	var in userInput
	if err := decodeJSON(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	h.createUser(c, in)
}

// apiGetUser: GET /api/v1/users/:id.
func (h *Handlers) apiGetUser(c *gin.Context) {
	id, err := userID(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	u, err := h.store.User(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, typeJSON, toJSON(u))
}

// apiReplaceUser: PUT /api/v1/users/:id {"name", "role"}, both required.
func (h *Handlers) apiReplaceUser(c *gin.Context) {
	var in userInput
	if err := decodeJSON(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	if err := in.require("name", "role"); err != nil {
		h.fail(c, err)
		return
	}
	h.updateUser(c, in)
}
