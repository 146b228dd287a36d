package integration

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sumprimes/sumprimes/internal/testenv"
)

// collector is an OTLP/HTTP trace receiver: it keeps every span it is
// sent, as "service: name" by trace id.
type collector struct {
	mu     sync.Mutex
	traces map[string][]string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = gz
	}
	data, err := io.ReadAll(body)
	var req coltracepb.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(data, &req)
	}
	if r.URL.Path != "/v1/traces" || err != nil {
		http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, kv := range rs.Resource.GetAttributes() {
			if kv.Key == "service.name" {
				service = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				id := hex.EncodeToString(s.TraceId)
				c.traces[id] = append(c.traces[id], service+": "+s.Name)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// trace returns the spans of the trace that holds a span named name.
func (c *collector) trace(name string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, spans := range c.traces {
		if slices.Contains(spans, name) {
			return slices.Clone(spans)
		}
	}
	return nil
}

// TestTracing: with tracing.otlp_endpoint set, a submit is one trace from
// the API's server span, through its Redis commands, to the worker's
// compute span, the trace context carried in the Kafka message's headers;
// a W3C traceparent sent by the client is the trace's root.
func TestTracing(t *testing.T) {
	t.Parallel()
	c := &collector{traces: map[string][]string{}}
	otlp := httptest.NewServer(c)
	defer otlp.Close()
	cfg := testenv.Config(t)
	cfg.Tracing.Endpoint, cfg.Tracing.SampleRatio = otlp.URL, 1
	url := startAPI(t, cfg)
	startWorker(t, cfg)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, url+"/sumPrime", strings.NewReader(`{"a":1,"b":1000}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	r := read(t, mustDo(t, req))
	if r.status != http.StatusAccepted {
		t.Fatalf("submit = %d %s", r.status, r.body)
	}
	await(t, url, r.record(t).RequestID)

	var spans []string
	testenv.Eventually(t, 30*time.Second, "the trace exported", func() bool {
		c.mu.Lock()
		spans = slices.Clone(c.traces[traceID])
		c.mu.Unlock()
		return slices.Contains(spans, "sumprimes-api: POST /sumPrime") && slices.Contains(spans, "sumprimes-worker: compute")
	})
	t.Logf("trace %s: %v", traceID, spans)
	if !slices.ContainsFunc(spans, func(s string) bool { return strings.HasPrefix(s, "sumprimes-api: ") && !strings.Contains(s, "/") }) {
		t.Errorf("trace %v has no Redis span of the API's", spans)
	}
	if got := c.trace("sumprimes-api: GET /sumPrime/:id"); got == nil {
		t.Errorf("no span of the poll: %v", c.traces)
	}
}

func mustDo(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
