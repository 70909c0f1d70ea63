package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"userhub/buildinfo"
)

// WorkerLabel names the process a series comes from in cluster mode: a
// worker's slot ("0", "1", ...), which a replacement worker takes over, so
// that its series go on under the same labels; "master" for the master.
const WorkerLabel = "worker"

// scrapeTimeout bounds how long one scrape waits for one worker.
const scrapeTimeout = 5 * time.Second

// Workers gathers the metrics of a cluster's workers, so that one scrape
// of the master's admin listener sees every worker. Each worker serves its
// own admin handler on a Unix socket the master made for it (Listen) and
// handed down; Gather asks each over its socket and labels its series with
// its slot. While a slot has two workers (a reload: the new one starting,
// the old one finishing), the newest that answers speaks for the slot.
type Workers struct {
	dir string // private (0700): the sockets

	mu    sync.Mutex
	next  int
	slots map[int][]*endpoint // oldest first
}

type endpoint struct {
	path   string
	client *http.Client
}

// NewWorkers makes a private directory for the workers' sockets; Close
// removes it.
func NewWorkers() (*Workers, error) {
	dir, err := os.MkdirTemp("", "userhub-admin-")
	if err != nil {
		return nil, fmt.Errorf("a directory for the workers' metrics sockets: %w", err)
	}
	return &Workers{dir: dir, slots: map[int][]*endpoint{}}, nil
}

// Listen makes the admin socket of a new worker in slot; the worker
// serves on it (an inherited descriptor). release forgets it once the
// worker has exited.
func (w *Workers) Listen(slot int) (ln net.Listener, release func(), err error) {
	w.mu.Lock()
	w.next++
	path := filepath.Join(w.dir, strconv.Itoa(w.next)+".sock")
	w.mu.Unlock()
	ln, err = net.Listen("unix", path)
	if err != nil {
		return nil, nil, fmt.Errorf("a metrics socket for worker %d: %w", slot, err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // the worker serves it; release removes it
	e := &endpoint{path: path, client: &http.Client{
		Timeout: scrapeTimeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return new(net.Dialer).DialContext(ctx, "unix", path)
			},
			MaxIdleConnsPerHost: 1,
		},
	}}
	w.mu.Lock()
	w.slots[slot] = append(w.slots[slot], e)
	w.mu.Unlock()
	release = func() {
		w.mu.Lock()
		w.slots[slot] = slices.DeleteFunc(w.slots[slot], func(x *endpoint) bool { return x == e })
		if len(w.slots[slot]) == 0 {
			delete(w.slots, slot)
		}
		w.mu.Unlock()
		e.client.CloseIdleConnections()
		os.Remove(path)
	}
	return ln, release, nil
}

// Close removes the sockets' directory.
func (w *Workers) Close() error { return os.RemoveAll(w.dir) }

// Gather implements prometheus.Gatherer: every worker's metrics, each
// series labelled with its worker's slot. A slot whose workers do not
// answer is left out, and said so in the error.
func (w *Workers) Gather() ([]*dto.MetricFamily, error) {
	w.mu.Lock()
	slots := make(map[int][]*endpoint, len(w.slots))
	for slot, es := range w.slots {
		slots[slot] = slices.Clone(es)
	}
	w.mu.Unlock()

	type result struct {
		slot     int
		families []*dto.MetricFamily
		err      error
	}
	results := make(chan result, len(slots))
	for slot, es := range slots {
		go func() {
			families, err := scrapeNewest(es)
			results <- result{slot, families, err}
		}()
	}
	byName := map[string]*dto.MetricFamily{}
	var errs []error
	for range slots {
		r := <-results
		if r.err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", r.slot, r.err))
			continue
		}
		label := strconv.Itoa(r.slot)
		for _, mf := range r.families {
			merged, ok := byName[mf.GetName()]
			if !ok {
				merged = &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit}
				byName[mf.GetName()] = merged
			}
			for _, m := range mf.Metric {
				addWorkerLabel(m, label)
				merged.Metric = append(merged.Metric, m)
			}
		}
	}
	families := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		families = append(families, mf)
	}
	return families, errors.Join(errs...)
}

// scrapeNewest asks a slot's workers, newest first, and returns the first
// answer.
func scrapeNewest(es []*endpoint) ([]*dto.MetricFamily, error) {
	var errs []error
	for _, e := range slices.Backward(es) {
		families, err := e.scrape()
		if err == nil {
			return families, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// scrape reads a worker's metrics in the protobuf format, which carries
// native histograms.
func (e *endpoint) scrape() ([]*dto.MetricFamily, error) {
	req, err := http.NewRequest(http.MethodGet, "http://worker/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", e.path, resp.Status)
	}
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	var families []*dto.MetricFamily
	for {
		mf := new(dto.MetricFamily)
		if err := dec.Decode(mf); errors.Is(err, io.EOF) {
			return families, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", e.path, err)
		}
		families = append(families, mf)
	}
}

// Labelled gives every series of g the label WorkerLabel=name: the
// master's own metrics beside its workers'.
func Labelled(name string, g prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		families, err := g.Gather()
		for _, mf := range families {
			for _, m := range mf.Metric {
				addWorkerLabel(m, name)
			}
		}
		return families, err
	})
}

// addWorkerLabel labels m with its worker, keeping the labels sorted by
// name, as the exposition expects.
func addWorkerLabel(m *dto.Metric, worker string) {
	m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(WorkerLabel), Value: proto.String(worker)})
	slices.SortFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
}

// Master is the registry of a cluster master's own metrics: the build,
// and the Go runtime's and the process's.
func Master(build buildinfo.Info) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(buildInfo(build), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
