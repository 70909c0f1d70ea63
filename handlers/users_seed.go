package handlers

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"userhub/accounts"
	"userhub/models"
)

// The seed chapter's REST routes, in its wire format, so that its browser
// client runs unchanged. They translate to the same calls as the API.

// seedMaxUsers bounds GET /users: the seed returns every user; we return at
// most this many and a Link to the rest.
const seedMaxUsers = 1000

// seedName is the seed's user body: {"name": "..."}. Decoding into it
// refuses any other field.
type seedName struct {
	Name *string `json:"name" required:"true"`
}

// seedListUsers: GET /users -> {"<id>": "<name>", ...} in id order.
func (h *Handlers) seedListUsers(c *gin.Context) error {
	q, page, err := h.listUsers(c, seedMaxUsers, seedMaxUsers, models.OrderOldest)
	if err != nil {
		return err
	}
	setPageLinks(c, q, page, seedMaxUsers, models.OrderOldest)
	// Written by hand: a Go map would lose the id order.
	b := make([]byte, 0, 2+32*page.Len())
	b = append(b, '{')
	for i, u := range page.All() {
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
	return nil
}

// seedCreateUser: POST /user {"name"} -> 201, Location, the user.
func (h *Handlers) seedCreateUser(c *gin.Context) error {
	var in seedName
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	return h.createUser(c, accounts.NewAccount{Name: *in.Name})
}

// seedReplaceUser: PUT /user/:id {"name"} -> 200, the user.
func (h *Handlers) seedReplaceUser(c *gin.Context) error {
	var in seedName
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	return h.updateUser(c, accounts.Change{Name: in.Name})
}
