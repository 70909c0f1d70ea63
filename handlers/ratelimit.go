package handlers

import (
	"math"
	"strconv"

	"github.com/gin-gonic/gin"

	"userhub/auth"
	"userhub/models"
	"userhub/ratelimit"
	"userhub/sessions"
)

// rateLimit counts each /api request against its principal's limit (each
// token is a principal, each session one) or, anonymous, its client
// address's. Every answer says the policy and what is left (the IETF
// RateLimit-Policy and RateLimit fields); over the limit, 429 with
// Retry-After.
func (h *Handlers) rateLimit(c *gin.Context) {
	limiter, policy, key := h.anonymousLimits, "anonymous", "api:ip:"+c.ClientIP()
	if p, ok := auth.From(c); ok && p.LoggedIn() {
		limiter, policy = h.limits, "principal"
		switch {
		case p.Method == auth.MethodToken:
			key = "api:t:" + strconv.FormatInt(p.Token.ID, 10)
		case p.SessionID != "":
			key = "api:s:" + sessions.PublicID(p.SessionID) // a hash: the id is the key to the session in Redis
		default:
			key = "api:u:" + strconv.FormatInt(p.User.ID, 10)
		}
	}
	if limiter == nil {
		c.Next()
		return
	}
	d, err := limiter.Take(c.Request.Context(), key)
	if err != nil {
		h.fail(c, err)
		return
	}
	setRateLimitHeaders(c, policy, limiter, d)
	if !d.Allowed {
		h.fail(c, &models.RateLimitedError{Limit: d.Limit, RetryAfter: d.Reset})
		return
	}
	c.Next()
}

// setRateLimitHeaders writes draft-ietf-httpapi-ratelimit-headers' fields:
// RateLimit-Policy: "principal";q=600;w=60 and RateLimit: "principal";r=599;t=42.
func setRateLimitHeaders(c *gin.Context, policy string, l *ratelimit.Limiter, d ratelimit.Decision) {
	name := `"` + policy + `"`
	c.Header("RateLimit-Policy", name+";q="+strconv.Itoa(l.Limit())+";w="+strconv.Itoa(int(l.Window().Seconds())))
	c.Header("RateLimit", name+";r="+strconv.Itoa(d.Remaining)+";t="+strconv.Itoa(int(math.Ceil(d.Reset.Seconds()))))
}
