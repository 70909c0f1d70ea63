package server

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
)

func TestListenErrorWording(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want []string
	}{
		{syscall.EADDRINUSE, []string{"cannot listen on :8080", "port 8080 is already in use", "server.addr", "USERHUB_SERVER_ADDR"}},
		{syscall.EACCES, []string{"permission denied for port 8080", "server.addr"}},
		{syscall.EADDRNOTAVAIL, []string{"no such address", "USERHUB_SERVER_ADDR"}},
		{&net.DNSError{Name: "nohost"}, []string{`host "nohost" is unknown`}},
	} {
		err := &ListenError{Addr: ":8080", Setting: "server.addr", Err: &net.OpError{Op: "listen", Err: tt.err}}
		msg := err.Error()
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: %q lacks %q", tt.err, msg, w)
			}
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("%q is more than one line", msg)
		}
		if !errors.Is(err, tt.err) && !errors.As(err, new(*net.DNSError)) {
			t.Errorf("%v does not unwrap", tt.err)
		}
	}
}

func TestListenTakenPort(t *testing.T) {
	ln, err := Listen("127.0.0.1:0", "server.addr")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Listen(ln.Addr().String(), "server.addr")
	var le *ListenError
	if !errors.As(err, &le) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second listen: %v", err)
	}
}
