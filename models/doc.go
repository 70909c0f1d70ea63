// Package models is userhub's domain: users and their roles, input
// validation, the errors handlers map to status codes, and the UserStore
// interface the SQL store implements.
//
// It must not know about HTTP or SQL: handlers translate requests into these
// types, and store/ translates them into statements.
package models
