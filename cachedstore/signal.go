package cachedstore

import "sync/atomic"

// LocalSignal is a Signal for one process: it sees only the changes made
// through this process's Stores. Changes made elsewhere are seen once
// cached entries age out (within maxAge).
type LocalSignal struct{ n atomic.Uint64 }

// Generation implements Signal.
func (l *LocalSignal) Generation() uint64 { return l.n.Load() }

// Changed implements Signal.
func (l *LocalSignal) Changed() { l.n.Add(1) }
