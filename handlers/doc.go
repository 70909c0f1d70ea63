// Package handlers is userhub's HTTP layer: the route table (routes.go), one
// file per resource, and the one place that turns errors into responses
// (errors.go). Handlers read the request, call the models.UserStore and
// render; they return domain errors instead of writing error responses, and
// hold no SQL and no user-visible text (that is in locale/).
package handlers
