package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"userhub/models"
)

// Conditional requests (RFC 9110, section 13). A user's ETag is strong: a
// hash of its JSON representation, so two equal tags mean byte-identical
// bodies. A list's is weak (the same users, in the same order, with the
// same paging), as a list body may differ in ways that do not matter (the
// Link header's spelling). GET answers 304 to If-None-Match; a change with
// If-Match that does not match the user as stored is refused with 412 in
// the change's own transaction, so two clients cannot both change what
// they read (the lost update).

// etagOf returns the entity tag of a JSON body.
func etagOf(body []byte, weak bool) string {
	sum := sha256.Sum256(body)
	tag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	if weak {
		return "W/" + tag
	}
	return tag
}

// userETag is the strong ETag of u's JSON representation.
func userETag(u models.User) string {
	body, err := json.Marshal(toJSON(u))
	if err != nil {
		panic(err) // userJSON always encodes
	}
	return etagOf(append(body, '\n'), false) // as writeJSON ends it
}

// tagsMatch reports whether header (an If-Match or If-None-Match value:
// "*" or a list of entity tags) matches etag. Weak comparison ignores W/;
// strong comparison never matches a weak tag.
func tagsMatch(header, etag string, weak bool) bool {
	if strings.TrimSpace(header) == "*" {
		return true
	}
	if !weak && strings.HasPrefix(etag, "W/") {
		return false
	}
	etag = strings.TrimPrefix(etag, "W/")
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if strings.HasPrefix(tag, "W/") {
			if !weak {
				continue
			}
			tag = tag[2:]
		}
		if tag == etag {
			return true
		}
	}
	return false
}

// ifMatch returns the precondition that the request's If-Match sets on a
// change to a user, or nil when it has none.
func ifMatch(c *gin.Context) models.Precondition {
	header := c.GetHeader("If-Match")
	if header == "" {
		return nil
	}
	return func(u models.User) error {
		if !tagsMatch(header, userETag(u), false) {
			return models.ErrPreconditionFailed
		}
		return nil
	}
}

// writeUser answers with u and its ETag.
func writeUser(c *gin.Context, status int, u models.User) {
	c.Header("ETag", userETag(u))
	writeJSON(c, status, typeJSON, toJSON(u))
}

// writeJSONIfChanged answers a GET with v and its ETag, or with 304 Not
// Modified when the request's If-None-Match has that tag already.
func writeJSONIfChanged(c *gin.Context, v any, weak bool) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bufPool.Put(buf) }()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		panic(err) // only unencodable types fail: a programming error
	}
	etag := etagOf(buf.Bytes(), weak)
	c.Header("ETag", etag)
	if inm := c.GetHeader("If-None-Match"); inm != "" && tagsMatch(inm, etag, true) {
		c.Status(http.StatusNotModified)
		return
	}
	writeBody(c, http.StatusOK, typeJSON, buf.Bytes())
}
