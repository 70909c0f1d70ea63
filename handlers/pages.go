package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"userhub/models"
)

// homePageSize is how many users the home page lists at a time.
const homePageSize = 50

// homePage is what home.html shows: one page of users, newest first.
type homePage struct {
	Users      []models.User
	NextCursor string
}

// home: GET / -> the user list, rendered on the server; static/users.js adds,
// renames and deletes through the seed routes without reloading.
func (h *Handlers) home(c *gin.Context) {
	q, err := listParams(c, homePageSize, homePageSize)
	if err != nil {
		h.fail(c, err)
		return
	}
	q.Newest = true
	page, err := h.store.ListUsers(c.Request.Context(), q)
	if err != nil {
		h.fail(c, err)
		return
	}
	data := homePage{Users: page.Users}
	if page.More {
		data.NextCursor = encodeCursor(page.Users[len(page.Users)-1].ID)
	}
	h.renderPage(c, http.StatusOK, "home.html", "home", data)
}

// about: GET /about, the same for every visitor of a language.
func (h *Handlers) about(c *gin.Context) {
	h.renderConstantPage(c, "about.html", "about")
}
