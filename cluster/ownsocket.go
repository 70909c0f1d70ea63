package cluster

import (
	"slices"

	"userhub/server"
)

// workerSockets are the sockets a new worker in slot gets: the shared
// ones, then, when Spec.WorkerSocket is set, one of its own. release
// (never nil) is to be called once the worker has exited; done, once it
// has its copy of the sockets: the master's copy of its own socket is
// closed, so that once the worker is gone nobody is left accepting on it
// and a client of it is refused at once rather than left waiting.
func (m *Master) workerSockets(slot int) (sockets []server.Socket, done, release func(), err error) {
	if m.spec.WorkerSocket == nil {
		return m.spec.Sockets, func() {}, func() {}, nil
	}
	own, release, err := m.spec.WorkerSocket(slot)
	if err != nil {
		return nil, nil, nil, err
	}
	return append(slices.Clone(m.spec.Sockets), own), func() { own.Listener.Close() }, release, nil
}
