package allsourcetest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const appendBody = `{"entity_id":"e","event_type":"t","payload":{}}`

// freshClient never reuses connections, so the transport cannot silently
// retry a request whose connection was dropped.
func freshClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

// tryRequest is like request but returns the transport error.
func tryRequest(ctx context.Context, client *http.Client, method, u string, hdr http.Header, body string) (*http.Response, error) {
	var req *http.Request
	var err error
	if body != "" {
		req, err = http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u, nil)
	}
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

func TestFaultStatusBodyHeader(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.Inject(Fault{Status: 429, Body: `{"error":"Rate limit exceeded"}`, Header: http.Header{"Retry-After": {"7"}}})
	s.Inject(Fault{Status: 503, Body: "busy"})
	r := appendEvent(t, s, map[string]any{"entity_id": "e", "event_type": "t", "payload": map[string]any{}})
	if r.status != 429 || r.text() != `{"error":"Rate limit exceeded"}` || r.header.Get("Retry-After") != "7" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("first: %d %v %s", r.status, r.header, r.body)
	}
	r = request(t, nil, "GET", s.QueryURL+"/api/v1/events/query", xAPIKey(s.APIKey), "")
	if r.status != 503 || r.text() != "busy" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("second: %d %v %s", r.status, r.header, r.body)
	}
	if r := appendEvent(t, s, map[string]any{"entity_id": "e", "event_type": "t", "payload": map[string]any{}}); r.status != 200 {
		t.Errorf("after faults: %d %s", r.status, r.body)
	}
	if n := len(s.Events()); n != 1 {
		t.Errorf("%d events, want 1 (faulted append must not land)", n)
	}
}

func TestFaultTimes(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.Inject(Fault{Status: 500, Times: 2})
	var got []int
	for i := 0; i < 3; i++ {
		got = append(got, request(t, nil, "GET", s.URL+"/health", nil, "").status)
	}
	if !equalSlices(got, []int{500, 500, 200}) {
		t.Errorf("statuses %v", got)
	}
}

func TestFaultMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault Fault
		// statuses of: POST core append, GET core query, GET query-service query, GET core health
		want []int
	}{
		{"any", Fault{Status: 500, Times: 10}, []int{500, 500, 500, 500}},
		{"method", Fault{Method: "POST", Status: 500, Times: 10}, []int{500, 200, 200, 200}},
		{"method lowercase", Fault{Method: "get", Status: 500, Times: 10}, []int{200, 500, 500, 500}},
		{"path", Fault{Path: "/api/v1/events/query", Status: 500, Times: 10}, []int{200, 500, 500, 200}},
		{"path exact", Fault{Path: "/api/v1/events", Status: 500, Times: 10}, []int{500, 200, 200, 200}},
		{"listener core", Fault{Listener: "core", Status: 500, Times: 10}, []int{500, 500, 200, 500}},
		{"listener query", Fault{Listener: "query", Status: 500, Times: 10}, []int{200, 200, 500, 200}},
		{"all fields", Fault{Method: "GET", Path: "/api/v1/events/query", Listener: "query", Status: 500, Times: 10}, []int{200, 200, 500, 200}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			s.Inject(tc.fault)
			got := []int{
				request(t, nil, "POST", s.URL+"/api/v1/events", jsonHeader(s.APIKey), appendBody).status,
				request(t, nil, "GET", s.URL+"/api/v1/events/query", bearer(s.APIKey), "").status,
				request(t, nil, "GET", s.QueryURL+"/api/v1/events/query", xAPIKey(s.APIKey), "").status,
				request(t, nil, "GET", s.URL+"/health", nil, "").status,
			}
			if !equalSlices(got, tc.want) {
				t.Errorf("statuses %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFaultFIFO(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.Inject(Fault{Path: "/api/v1/events", Status: 502})
	s.Inject(Fault{Status: 503})
	s.Inject(Fault{Status: 504})
	var got []int
	for i := 0; i < 4; i++ {
		got = append(got, request(t, nil, "GET", s.URL+"/health", nil, "").status)
	}
	// The first fault does not match /health and stays queued.
	if !equalSlices(got, []int{503, 504, 200, 200}) {
		t.Errorf("statuses %v", got)
	}
	if r := request(t, nil, "POST", s.URL+"/api/v1/events", jsonHeader(s.APIKey), appendBody); r.status != 502 {
		t.Errorf("append: %d", r.status)
	}
}

func TestFaultDelay(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.Inject(Fault{Delay: 20 * time.Millisecond})
	if r := request(t, nil, "POST", s.URL+"/api/v1/events", jsonHeader(s.APIKey), appendBody); r.status != 200 {
		t.Fatalf("delayed append: %d %s", r.status, r.body)
	}
	s.Inject(Fault{Delay: 20 * time.Millisecond, Status: 503})
	if r := request(t, nil, "GET", s.URL+"/health", nil, ""); r.status != 503 {
		t.Fatalf("delay+status: %d", r.status)
	}

	// A very slow server: the client gives up through its context.
	s.Inject(Fault{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := tryRequest(ctx, freshClient(), "POST", s.URL+"/api/v1/events", jsonHeader(s.APIKey), appendBody)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if n := len(s.Events()); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}

func TestFaultDelayEndsOnClose(t *testing.T) {
	t.Parallel()
	s := NewServer()
	s.Inject(Fault{Delay: time.Hour})
	done := make(chan error, 1)
	go func() {
		_, err := tryRequest(context.Background(), freshClient(), "GET", s.URL+"/health", nil, "")
		done <- err
	}()
	for s.Requests() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close() // must not wait for the hour
	<-done
}

func TestFaultDrop(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	s.Inject(Fault{Drop: true, Times: 2})
	if _, err := tryRequest(context.Background(), freshClient(), "POST", s.URL+"/api/v1/events", jsonHeader(s.APIKey), appendBody); err == nil {
		t.Error("dropped append: no error")
	}
	if _, err := tryRequest(context.Background(), freshClient(), "GET", s.QueryURL+"/api/v1/events/query", xAPIKey(s.APIKey), ""); err == nil {
		t.Error("dropped query: no error")
	}
	if n := len(s.Events()); n != 0 {
		t.Errorf("%d events, want 0 (dropped before serving)", n)
	}
	if r := request(t, nil, "GET", s.URL+"/health", nil, ""); r.status != 200 {
		t.Errorf("after: %d", r.status)
	}
}

func TestFaultAfterApply(t *testing.T) {
	t.Parallel()
	t.Run("drop", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t)
		s.Inject(Fault{Method: "POST", AfterApply: true, Drop: true})
		_, err := tryRequest(context.Background(), freshClient(), "POST", s.URL+"/api/v1/events", jsonHeader(s.APIKey), appendBody)
		if err == nil {
			t.Fatal("no transport error")
		}
		if ev := s.Events(); len(ev) != 1 || ev[0].EntityID != "e" {
			t.Errorf("events %+v, want the append landed", ev)
		}
	})
	t.Run("status", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t)
		s.Inject(Fault{AfterApply: true, Status: 503, Body: `{"error":"Queue full: try later"}`, Header: http.Header{"Retry-After": {"1"}}})
		r := request(t, nil, "POST", s.URL+"/api/v1/events", jsonHeader(s.APIKey), appendBody)
		if r.status != 503 || r.text() != `{"error":"Queue full: try later"}` || r.header.Get("Retry-After") != "1" {
			t.Errorf("%d %v %s", r.status, r.header, r.body)
		}
		if n := len(s.Events()); n != 1 {
			t.Errorf("%d events, want 1", n)
		}
	})
	t.Run("no-op", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t)
		s.Inject(Fault{AfterApply: true})
		r := request(t, nil, "POST", s.URL+"/api/v1/events", jsonHeader(s.APIKey), appendBody)
		var a appendResponse
		r.json(t, &a)
		if r.status != 200 || a.Version != 1 || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%d %v %s", r.status, r.header, r.body)
		}
	})
	t.Run("failed append stays failed", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t)
		s.Inject(Fault{AfterApply: true, Status: 500})
		r := request(t, nil, "POST", s.URL+"/api/v1/events", jsonHeader(s.APIKey), `{"entity_id":"e","event_type":"Bad","payload":{}}`)
		if r.status != 500 || len(s.Events()) != 0 {
			t.Errorf("%d, %d events", r.status, len(s.Events()))
		}
	})
}

func TestRequestsCount(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	if s.Requests() != 0 {
		t.Fatalf("Requests() = %d at start", s.Requests())
	}
	request(t, nil, "GET", s.URL+"/health", nil, "")
	request(t, nil, "GET", s.QueryURL+"/health", nil, "")
	request(t, nil, "GET", s.URL+"/nope", nil, "")
	request(t, nil, "GET", s.URL+"/api/v1/events/query", nil, "") // 401
	s.Inject(Fault{Status: 500})
	request(t, nil, "GET", s.URL+"/health", nil, "")
	s.Inject(Fault{Drop: true})
	_, _ = tryRequest(context.Background(), freshClient(), "GET", s.URL+"/health", nil, "")
	if _, err := s.Append("", "e", "t", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.Requests(); got != 6 {
		t.Errorf("Requests() = %d, want 6", got)
	}
}

// A 429 carries Retry-After, as Allsource's rate limiter sends it, unless the fault says otherwise.
func TestFault429RetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header http.Header
		want   string
	}{
		{nil, "1"},
		{http.Header{"Retry-After": {"7"}}, "7"},
	} {
		s := newTestServer(t)
		s.Inject(Fault{Status: http.StatusTooManyRequests, Header: tc.header})
		r := request(t, nil, "GET", s.URL+"/health", nil, "")
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != tc.want {
			t.Errorf("header %v: %d Retry-After %q, want %q", tc.header, r.status, r.header.Get("Retry-After"), tc.want)
		}
	}
}
