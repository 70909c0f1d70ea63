// Package middleware holds userhub's cross-cutting request rules, one small
// file each: request ids, the access log, panic recovery, security headers,
// the cross-origin (CSRF) guard, the body size limit, and what metrics
// see of each request (RequestObserver).
//
// Middleware that must answer a request (recovery, the CSRF guard, the body
// limit) does not format responses itself: it hands the error to the Fail
// function it is given, the one place that renders errors.
package middleware

import "github.com/gin-gonic/gin"

// Fail renders err as the response to c (problem+json or the HTML error
// page) and aborts the chain. handlers provides it.
type Fail func(c *gin.Context, err error)
