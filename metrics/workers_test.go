package metrics

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"userhub/buildinfo"
)

// fakeWorker serves a worker's admin handler, with one request of route
// counted, on the socket w makes for slot; stop stops serving (the worker
// exits) without releasing the socket.
func fakeWorker(t *testing.T, w *Workers, slot int, route string) (stop, release func()) {
	t.Helper()
	ln, release, err := w.Listen(slot)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Sources{})
	m.Started()
	m.Finished(route, "GET", 200, time.Millisecond)
	srv := &http.Server{Handler: Handler(m.Gatherer())}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); release() })
	return func() { srv.Close() }, release
}

func TestWorkersGatherEveryWorker(t *testing.T) {
	w, err := NewWorkers()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	h := Handler(prometheus.Gatherers{Labelled("master", Master(buildinfo.Info{Version: "v1"})), w})
	scrape := func() string {
		t.Helper()
		code, body := get(t, h, "/metrics")
		if code != 200 {
			t.Fatalf("/metrics: %d %s", code, body)
		}
		return body
	}

	fakeWorker(t, w, 0, "/a")
	stopOld, releaseOld := fakeWorker(t, w, 1, "/old")
	body := scrape()
	for _, want := range []string{
		`userhub_http_requests_total{method="GET",route="/a",status="2xx",worker="0"} 1`,
		`userhub_http_requests_total{method="GET",route="/old",status="2xx",worker="1"} 1`,
		`userhub_build_info{revision="",version="v1",worker="master"} 1`,
		`process_cpu_seconds_total{worker="master"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}

	// A reload: slot 1 gets a new worker beside the old one; the newest
	// speaks for the slot, so its series keep their labels.
	fakeWorker(t, w, 1, "/new")
	body = scrape()
	if !strings.Contains(body, `route="/new",status="2xx",worker="1"} 1`) || strings.Contains(body, `route="/old"`) {
		t.Errorf("during a reload, slot 1 is not the newest worker's:\n%s", body)
	}
	stopOld()
	releaseOld()
	body = scrape()
	if !strings.Contains(body, `route="/new",status="2xx",worker="1"} 1`) || !strings.Contains(body, `worker="0"`) {
		t.Errorf("after the old worker left:\n%s", body)
	}

	// A worker that has died (its socket not yet released) costs its own
	// series, not the scrape.
	stop2, _ := fakeWorker(t, w, 2, "/dead")
	stop2()
	body = scrape()
	if !strings.Contains(body, `worker="0"`) || strings.Contains(body, `worker="2"`) {
		t.Errorf("with a dead worker:\n%s", body)
	}
	if t.Failed() {
		t.Log(body)
	}
}
