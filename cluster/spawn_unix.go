//go:build unix

package cluster

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// Available reports whether cluster mode can run on this system: on Unix it
// can, so it returns nil.
func Available() error { return nil }

// startProcess starts the worker binary spec.Path with argv and env. The
// worker's descriptors 0, 1 and 2 are spec's stdin, stdout and stderr;
// 3, 4, ... are spec's sockets, in order, then pipes, in order.
//
// It uses syscall.ForkExec with raw descriptors, not os/exec: os/exec
// takes each file's Fd(), which switches a socket to blocking mode, and
// that mode is shared by every copy of the socket, the running workers'
// included. A worker whose listening socket turned blocking can sit in
// accept() for ever, past its shutdown.
func startProcess(spec Spec, argv, env []string, pipes ...*os.File) (*os.Process, error) {
	fds := []uintptr{spec.Stdin.Fd(), spec.Stdout.Fd(), spec.Stderr.Fd()}
	for _, s := range spec.Sockets {
		fd, err := dupSocket(s.Listener)
		if err != nil {
			return nil, fmt.Errorf("hand the %s socket to a worker: %w", s.Name, err)
		}
		defer syscall.Close(fd)
		fds = append(fds, uintptr(fd))
	}
	for _, p := range pipes {
		fds = append(fds, p.Fd())
	}
	pid, err := syscall.ForkExec(spec.Path, argv, &syscall.ProcAttr{
		Env:   env,
		Files: fds,
		// A process group of its own: Ctrl-C at a terminal reaches the
		// master only, which then stops the workers in order.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return nil, fmt.Errorf("start worker %s: %w", spec.Path, err)
	}
	return os.FindProcess(pid) // on Unix it always succeeds
}

// dupSocket returns a new descriptor of the listener's socket, for a child:
// the duplicate shares the socket, and its flags, and is closed by the
// caller once the child has its own copy. It is close-on-exec (ForkExec
// clears that on the descriptors it passes), so no other child inherits it.
func dupSocket(ln net.Listener) (int, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return 0, fmt.Errorf("%T has no descriptor", ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	fd := -1
	var dupErr error
	dup := func(s uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		fd = int(r)
		if errno != 0 {
			dupErr = errno
		}
	}
	if err := raw.Control(dup); err != nil {
		return 0, err
	}
	return fd, dupErr
}
