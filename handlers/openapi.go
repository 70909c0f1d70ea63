package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"userhub/openapi"
)

// The API's contract, served: the OpenAPI document as JSON, and the
// reference page that renders it (swagger-ui, vendored under
// static/vendor/swagger-ui/).

// openAPIDocument: GET /api/v1/openapi.json, public. It changes only with
// a new build: caches may keep it but revalidate (no-cache) with its
// strong ETag, which costs a 304.
func (h *Handlers) openAPIDocument(c *gin.Context) error {
	body, etag := openapi.JSON()
	hdr := c.Writer.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", "public, no-cache")
	if inm := c.GetHeader("If-None-Match"); inm != "" && tagsMatch(inm, etag, true) {
		c.Status(http.StatusNotModified)
		return nil
	}
	writeBody(c, http.StatusOK, typeJSON, body)
	return nil
}

// apiDocs: GET /api/docs, the API reference, the same for every visitor
// of a language.
func (h *Handlers) apiDocs(c *gin.Context) error {
	return h.renderConstantPage(c, "api_docs.html", "api")
}
