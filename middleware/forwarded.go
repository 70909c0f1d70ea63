package middleware

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
)

// httpsKey marks, in a request's context, a request that reached a trusted
// proxy over HTTPS.
type httpsKey struct{}

// ProxiedHTTPS returns a check that a plain-HTTP request reached a trusted
// proxy (IP addresses or CIDR ranges, server.trusted_proxies) over HTTPS:
// it came from one of them with X-Forwarded-Proto: https. Anyone can send
// the header; only a proxy we trust decides. With no proxies, never.
func ProxiedHTTPS(proxies []string) (func(*http.Request) bool, error) {
	var trusted []netip.Prefix
	for _, p := range proxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, err2 := netip.ParseAddr(p)
			if err2 != nil {
				return nil, fmt.Errorf("%q is neither an IP address nor a CIDR range", p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		trusted = append(trusted, prefix.Masked())
	}
	return func(r *http.Request) bool {
		return len(trusted) > 0 && r.TLS == nil && fromTrusted(r.RemoteAddr, trusted) &&
			strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https")
	}, nil
}

// ForwardedHTTPS marks the requests that ProxiedHTTPS(proxies) accepts as
// HTTPS for IsHTTPS (Secure cookies with session.secure auto), although
// they came from the proxy over plain HTTP.
func ForwardedHTTPS(proxies []string) (gin.HandlerFunc, error) {
	proxied, err := ProxiedHTTPS(proxies)
	if err != nil {
		return nil, err
	}
	return func(c *gin.Context) {
		if proxied(c.Request) {
			c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), httpsKey{}, true))
		}
		c.Next()
	}, nil
}

func fromTrusted(remoteAddr string, trusted []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// IsHTTPS reports whether r came over HTTPS: to this server, or to a
// trusted proxy in front of it (ForwardedHTTPS).
func IsHTTPS(r *http.Request) bool {
	return r.TLS != nil || r.Context().Value(httpsKey{}) == true
}
