package cluster

import (
	"errors"
	"os"
)

// errUnavailable says what to do instead: the master hands its listening
// sockets to workers as inherited Unix descriptors (see spawn_unix.go),
// which Windows does not have.
var errUnavailable = errors.New("cluster mode is not available on Windows: set cluster.workers to 0")

// Available reports whether cluster mode can run on this system: on Windows
// it cannot, and the error tells the operator to run one process instead.
func Available() error { return errUnavailable }

// startProcess refuses: see errUnavailable.
func startProcess(Spec, []string, []string, ...*os.File) (*os.Process, error) {
	return nil, errUnavailable
}
