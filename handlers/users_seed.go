package handlers

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// The seed chapter's REST routes, in its wire format, so that its browser
// client runs unchanged. They translate to the same store calls as the API.

// seedMaxUsers bounds GET /users: the seed returns every user; we return at
// most this many and a Link to the rest.
const seedMaxUsers = 1000

// seedNameOnly is the seed's user body: {"name": "..."}. Decoding into it
// refuses any other field.
type seedNameOnly struct {
	Name *string `json:"name"`
}

// seedListUsers: GET /users -> {"<id>": "<name>", ...} in id order.
func (h *Handlers) seedListUsers(c *gin.Context) {
	q, page, ok := h.listUsers(c, seedMaxUsers, seedMaxUsers, false)
	if !ok {
		return
	}
	setNextLink(c, page, q.Limit)
	// Written by hand: a Go map would lose the id order.
	b := make([]byte, 0, 2+32*len(page.Users))
	b = append(b, '{')
	for i, u := range page.Users {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, u.ID, 10)
		b = append(b, '"', ':')
		b = appendJSONString(b, u.Name)
	}
	b = append(b, '}', '\n')
	writeBody(c, http.StatusOK, typeJSON, b)
}

// seedCreateUser: POST /user {"name"} -> 201, Location, the user.
func (h *Handlers) seedCreateUser(c *gin.Context) {
	var in seedNameOnly
	if err := decodeJSON(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	h.createUser(c, userInput{Name: in.Name})
}

// seedReplaceUser: PUT /user/:id {"name"} -> 200, the user.
func (h *Handlers) seedReplaceUser(c *gin.Context) {
	var in seedNameOnly
	if err := decodeJSON(c, &in); err != nil {
		h.fail(c, err)
		return
	}
	full := userInput{Name: in.Name}
	if err := full.require("name"); err != nil {
		h.fail(c, err)
		return
	}
	h.updateUser(c, full)
}
