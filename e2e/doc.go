// Package e2e holds tests that build the userhub binary, start it as a
// process on a loopback port, and drive it over real HTTP (and, for the
// browser suites, in a real headless Chromium). They check what an operator
// and a user see: status codes, headers, bodies, exit codes, log lines.
package e2e
