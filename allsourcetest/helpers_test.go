package allsourcetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func newTestServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) text() string { return strings.TrimSpace(string(r.body)) }

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// request sends one request and reads the whole answer.
func request(t *testing.T, client *http.Client, method, u string, hdr http.Header, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func bearer(key string) http.Header {
	return http.Header{"Authorization": {"Bearer " + key}}
}

func xAPIKey(key string) http.Header {
	return http.Header{"X-Api-Key": {key}}
}

func jsonHeader(key string) http.Header {
	return http.Header{"Authorization": {"Bearer " + key}, "Content-Type": {"application/json"}}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// appendEvent posts one append to Core with the default key.
func appendEvent(t *testing.T, s *Server, body map[string]any) response {
	t.Helper()
	return request(t, nil, http.MethodPost, s.URL+"/api/v1/events", jsonHeader(s.APIKey), mustJSON(t, body))
}

// mustAppend posts an append that must succeed and returns its answer.
func mustAppend(t *testing.T, s *Server, body map[string]any) appendResponse {
	t.Helper()
	r := appendEvent(t, s, body)
	if r.status != http.StatusOK {
		t.Fatalf("append %v: %d %s", body, r.status, r.body)
	}
	var a appendResponse
	r.json(t, &a)
	return a
}

// queryAnswer mirrors the query answer, with entity_version as a pointer
// to tell absence apart.
type queryAnswer struct {
	Events        []wireEvent `json:"events"`
	Count         int         `json:"count"`
	TotalCount    int         `json:"total_count"`
	HasMore       bool        `json:"has_more"`
	EntityVersion *uint64     `json:"entity_version"`
}

// queryCore queries the Core listener with the default key.
func queryCore(t *testing.T, s *Server, params url.Values) queryAnswer {
	t.Helper()
	return mustQuery(t, s.URL, bearer(s.APIKey), params)
}

func mustQuery(t *testing.T, base string, hdr http.Header, params url.Values) queryAnswer {
	t.Helper()
	r := request(t, nil, http.MethodGet, base+"/api/v1/events/query?"+params.Encode(), hdr, "")
	if r.status != http.StatusOK {
		t.Fatalf("query %v: %d %s", params, r.status, r.body)
	}
	if !bytes.Contains(r.body, []byte(`"events":[`)) {
		t.Fatalf("events is not a list: %s", r.body)
	}
	var a queryAnswer
	r.json(t, &a)
	return a
}

func versions(a queryAnswer) []uint64 {
	out := make([]uint64, len(a.Events))
	for i, e := range a.Events {
		out[i] = e.Version
	}
	return out
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
