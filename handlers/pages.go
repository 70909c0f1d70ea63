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
	First      bool // this is the first page
	MinLength  int  // of a password, for the form's hint
}

// home: GET / -> the user list, rendered on the server; static/users.js adds,
// renames and deletes through the seed routes without reloading.
func (h *Handlers) home(c *gin.Context) {
	q, page, ok := h.listUsers(c, homePageSize, homePageSize, true)
	if !ok {
		return
	}
	data := homePage{Users: page.Users, First: q.After == 0, MinLength: h.policy.Min()}
	if page.More {
		data.NextCursor = encodeCursor(page.Users[len(page.Users)-1].ID)
	}
	h.renderPage(c, http.StatusOK, "home.html", "home", data)
}

// account: GET /account, where users change their own name and password.
func (h *Handlers) account(c *gin.Context) {
	h.renderPage(c, http.StatusOK, "account.html", "account", struct{ MinLength int }{h.policy.Min()})
}

// about: GET /about, the same for every visitor of a language.
func (h *Handlers) about(c *gin.Context) {
	h.renderConstantPage(c, "about.html", "about")
}
