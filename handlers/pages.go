package handlers

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"

	"userhub/models"
)

// homePageSize is how many users the home page lists at a time.
const homePageSize = 50

// homePage is what home.html shows: one page of users, newest first.
type homePage struct {
	Rows       template.HTML // see userrows.go
	Empty      bool
	NextCursor string
	First      bool // this is the first page
	MinLength  int  // of a password, for the form's hint
}

// home: GET / -> the user list, rendered on the server; static/app.js adds,
// renames and deletes through the seed routes without reloading.
func (h *Handlers) home(c *gin.Context) error {
	q, page, err := h.listUsers(c, homePageSize, homePageSize, true)
	if errors.As(err, new(*models.ValidationError)) {
		// A cursor from an old bookmark, or typed by hand: the list from
		// its start, rather than an error page.
		c.Redirect(http.StatusSeeOther, "/")
		return nil
	}
	if err != nil {
		return err
	}
	me := principal(c).User
	rows, labels := homeRows(page.Users(), me.ID, language(c))
	data := homePage{
		Rows:      userRowsHTML(rows, labels, me.IsAdmin()),
		Empty:     page.Len() == 0,
		First:     q.After == 0 && q.AfterName == "",
		MinLength: h.accounts.MinPasswordLength(),
	}
	data.NextCursor = nextCursor(q, page)
	return h.renderPage(c, http.StatusOK, "home.html", "home", data)
}

// account: GET /account, where users change their own name and password.
func (h *Handlers) account(c *gin.Context) error {
	return h.renderPage(c, http.StatusOK, "account.html", "account", struct{ MinLength int }{h.accounts.MinPasswordLength()})
}

// about: GET /about, the same for every visitor of a language.
func (h *Handlers) about(c *gin.Context) error {
	return h.renderConstantPage(c, "about.html", "about")
}
