package server

import (
	"net"
	"net/http"
	"strings"
)

// RedirectToHTTPS answers every request with 308 to the same path and
// query on the HTTPS listener (308 keeps the method and body). It sends
// browsers only to a name HTTPS has a certificate for (names: tls.domains
// with autocert, the certificate's names otherwise), spelt as configured:
// a request for any other host gets 400, so a forged Host header cannot
// make it redirect anywhere else.
func RedirectToHTTPS(tlsAddr string, names func() []string) http.Handler {
	_, port, _ := net.SplitHostPort(tlsAddr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]") // a bare IPv6 address
		target, ok := certifiedName(host, names())
		if !ok {
			http.Error(w, "no HTTPS site for this host name", http.StatusBadRequest)
			return
		}
		if port != "443" {
			target = net.JoinHostPort(target, port)
		} else if strings.Contains(target, ":") {
			target = "[" + target + "]" // an IPv6 address
		}
		http.Redirect(w, r, "https://"+target+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// certifiedName returns the name among names that host asks for, as the
// configuration spells it. A wildcard "*.example.com" covers one label
// under example.com (as in certificates), that label being a valid one.
func certifiedName(host string, names []string) (string, bool) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return "", false
	}
	for _, name := range names {
		name = strings.ToLower(name)
		if ip := net.ParseIP(name); ip != nil {
			if hostIP := net.ParseIP(host); hostIP != nil && hostIP.Equal(ip) {
				return ip.String(), true
			}
			continue
		}
		if host == name {
			return name, true
		}
		if parent, ok := strings.CutPrefix(name, "*."); ok {
			label, rest, found := strings.Cut(host, ".")
			if found && rest == parent && validLabel(label) {
				return label + "." + parent, true
			}
		}
	}
	return "", false
}

// validLabel: letters, digits and inner hyphens, 1 to 63 of them.
func validLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// unlessProxiedHTTPS serves app to requests a trusted proxy received over
// HTTPS (X-Forwarded-Proto: https from server.trusted_proxies: the proxy
// terminates TLS and forwards to this HTTP listener), and redirect to the
// rest. Redirecting those would loop: the browser is on HTTPS already.
func unlessProxiedHTTPS(proxied func(*http.Request) bool, app, redirect http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if proxied(r) {
			app.ServeHTTP(w, r)
			return
		}
		redirect.ServeHTTP(w, r)
	})
}
