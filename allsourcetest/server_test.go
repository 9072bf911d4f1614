package allsourcetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestAPIKeyFormat(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	if !regexp.MustCompile(`^ask_[A-Za-z0-9_-]{43}$`).MatchString(s.APIKey) {
		t.Fatalf("APIKey %q", s.APIKey)
	}
	if s.URL == "" || s.QueryURL == "" || s.URL == s.QueryURL {
		t.Fatalf("URL %q QueryURL %q", s.URL, s.QueryURL)
	}
	if other := newTestServer(t); other.APIKey == s.APIKey {
		t.Fatal("keys are not random")
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	for _, base := range []string{s.URL, s.QueryURL} {
		r := request(t, nil, http.MethodGet, base+"/health", nil, "")
		if r.status != http.StatusOK || r.text() != `{"status":"healthy","service":"allsource-core","version":"0.0.0-test"}` {
			t.Errorf("%s/health: %d %s", base, r.status, r.body)
		}
	}
}

func TestCoreAuth(t *testing.T) {
	t.Parallel()
	const jwt = "eyJhbGciOiJIUzI1NiJ9.e30.sig"
	s := newTestServer(t, WithAPIKey(jwt, "acme"))
	tests := []struct {
		name   string
		hdr    http.Header
		status int
		body   string
	}{
		{"bearer", bearer(s.APIKey), 200, ""},
		{"lowercase scheme", http.Header{"Authorization": {"bearer " + s.APIKey}}, 200, ""},
		{"bare", http.Header{"Authorization": {s.APIKey}}, 200, ""},
		{"x-api-key", xAPIKey(s.APIKey), 200, ""},
		{"jwt bearer", bearer(jwt), 200, ""},
		{"missing", nil, 401, "Missing authorization header"},
		{"unknown bearer", bearer("ask_nope"), 401, "Invalid API key"},
		{"unknown x-api-key", xAPIKey("ask_nope"), 401, "Invalid API key"},
		{"authorization wins over x-api-key", http.Header{"Authorization": {"Bearer ask_nope"}, "X-Api-Key": {s.APIKey}}, 401, "Invalid API key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := request(t, nil, http.MethodGet, s.URL+"/api/v1/events/query", tc.hdr, "")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 401 {
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("content type %q", ct)
				}
				if r.text() != tc.body {
					t.Errorf("body %q, want %q", r.body, tc.body)
				}
			}
		})
	}
}

func TestQueryServiceAuth(t *testing.T) {
	t.Parallel()
	const jwt = "eyJhbGciOiJIUzI1NiJ9.e30.sig"
	s := newTestServer(t, WithAPIKey(jwt, "default"))
	tests := []struct {
		name   string
		hdr    http.Header
		status int
	}{
		{"x-api-key", xAPIKey(s.APIKey), 200},
		{"jwt bearer", bearer(jwt), 200},
		{"api key as bearer", bearer(s.APIKey), 401},
		{"bare api key", http.Header{"Authorization": {s.APIKey}}, 401},
		{"bearer beats x-api-key", http.Header{"Authorization": {"Bearer " + s.APIKey}, "X-Api-Key": {s.APIKey}}, 401},
		{"jwt in x-api-key", xAPIKey(jwt), 401},
		{"missing", nil, 401},
		{"unknown x-api-key", xAPIKey("ask_nope"), 401},
		{"unknown jwt", bearer("eyJ.nope"), 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := request(t, nil, http.MethodGet, s.QueryURL+"/api/v1/events/query", tc.hdr, "")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 401 {
				return
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			r.json(t, &e)
			if e.Error.Code != "unauthorized" || e.Error.Message == "" {
				t.Errorf("body %s", r.body)
			}
		})
	}
}

func TestAuthMe(t *testing.T) {
	t.Parallel()
	const key = "ask_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
	s := newTestServer(t, WithAPIKey(key, "acme"))
	for _, c := range []struct {
		url string
		hdr http.Header
	}{{s.URL, bearer(key)}, {s.QueryURL, xAPIKey(key)}} {
		r := request(t, nil, http.MethodGet, c.url+"/api/v1/auth/me", c.hdr, "")
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var me struct {
			TenantID  string `json:"tenant_id"`
			KeyPrefix string `json:"key_prefix"`
		}
		r.json(t, &me)
		if me.TenantID != "acme" || me.KeyPrefix != key[:8] {
			t.Errorf("me = %+v", me)
		}
		if strings.Contains(string(r.body), key) {
			t.Error("full key echoed")
		}
	}
	if r := request(t, nil, http.MethodGet, s.URL+"/api/v1/auth/me", nil, ""); r.status != 401 {
		t.Errorf("without key: %d", r.status)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name, method, url string
		hdr               http.Header
		status            int
	}{
		{"unknown core", "GET", s.URL + "/api/v1/nope", bearer(s.APIKey), 404},
		{"unknown query", "GET", s.QueryURL + "/nope", xAPIKey(s.APIKey), 404},
		{"append on query service", "POST", s.QueryURL + "/api/v1/events", xAPIKey(s.APIKey), 404},
		{"GET events", "GET", s.URL + "/api/v1/events", bearer(s.APIKey), 405},
		{"POST query", "POST", s.URL + "/api/v1/events/query", bearer(s.APIKey), 405},
		{"POST health", "POST", s.URL + "/health", nil, 405},
	}
	for _, tc := range tests {
		r := request(t, nil, tc.method, tc.url, tc.hdr, "")
		if r.status != tc.status {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
		if tc.status == 404 && r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: content type %q", tc.name, r.header.Get("Content-Type"))
		}
	}
}

func TestAppendSuccess(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	r := appendEvent(t, s, map[string]any{
		"entity_id": "auth-user:1", "event_type": "auth.user.created",
		"payload": map[string]any{"id": "1"}, "metadata": map[string]any{"op": "x"},
	})
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var raw map[string]json.RawMessage
	r.json(t, &raw)
	if len(raw) != 3 {
		t.Errorf("keys: %s", r.body)
	}
	var a appendResponse
	r.json(t, &a)
	if _, err := uuid.Parse(a.EventID); err != nil {
		t.Errorf("event_id %q", a.EventID)
	}
	ts, err := time.Parse(time.RFC3339Nano, a.Timestamp)
	if err != nil || ts.Location() != time.UTC || !strings.HasSuffix(a.Timestamp, "Z") {
		t.Errorf("timestamp %q: %v", a.Timestamp, err)
	}
	if a.Version != 1 {
		t.Errorf("version %d", a.Version)
	}
	ev := s.Events()
	if len(ev) != 1 || ev[0].TenantID != "default" || ev[0].ID != a.EventID || string(ev[0].Metadata) != `{"op":"x"}` ||
		string(ev[0].Payload) != `{"id":"1"}` || !ev[0].Timestamp.Equal(ts) || ev[0].Version != 1 {
		t.Errorf("stored %+v", ev)
	}
	// Without metadata it is stored as null; charset parameter is fine.
	hdr := jsonHeader(s.APIKey)
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	r = request(t, nil, "POST", s.URL+"/api/v1/events", hdr, `{"entity_id":"e","event_type":"t","payload":[1, 2]}`)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if ev := s.Events(); string(ev[1].Metadata) != "null" || string(ev[1].Payload) != "[1,2]" {
		t.Errorf("stored %+v", ev[1])
	}
}

func TestEventTypeValidation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		eventType string
		ok        bool
	}{
		{"auth.user.created", true},
		{"auth.two_factor.created", true},
		{"a", true},
		{"v2.x9", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"UserCreated", false},
		{"auth.User.created", false},
		{"auth-user.created", false},
		{"auth user", false},
		{".auth", false},
		{"auth.", false},
		{"auth..user", false},
		{"auth:user", false},
	}
	for _, tc := range tests {
		r := appendEvent(t, s, map[string]any{"entity_id": "e", "event_type": tc.eventType, "payload": map[string]any{}})
		checkValidation(t, "event_type "+tc.eventType, r, tc.ok)
	}
}

func TestEntityIDValidation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name, entityID string
		ok             bool
	}{
		{"plain", "auth-user:7d0c", true},
		{"128", strings.Repeat("x", 128), true},
		{"128 bytes multibyte", strings.Repeat("é", 64), true},
		{"129", strings.Repeat("x", 129), false},
		{"129 bytes multibyte", strings.Repeat("é", 64) + "x", false},
		{"empty", "", false},
		{"blank", "   ", false},
		{"tab only", "\t", false},
		{"newline", "a\nb", false},
		{"nul", "a\x00b", false},
		{"del", "a\x7fb", false},
		{"inner space", "a b", true},
	}
	for _, tc := range tests {
		r := appendEvent(t, s, map[string]any{"entity_id": tc.entityID, "event_type": "t", "payload": map[string]any{}})
		checkValidation(t, tc.name, r, tc.ok)
	}
}

func checkValidation(t *testing.T, name string, r response, ok bool) {
	t.Helper()
	if ok {
		if r.status != 200 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
		return
	}
	var e errorBody
	if r.status != 400 || json.Unmarshal(r.body, &e) != nil || !strings.HasPrefix(e.Error, "Validation error: ") {
		t.Errorf("%s: %d %s, want 400 Validation error", name, r.status, r.body)
	}
}

func TestTenantValidation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		tenant any
		ok     bool
	}{
		{"acme", true},
		{"A-z_0-9", true},
		{strings.Repeat("t", 64), true},
		{strings.Repeat("t", 65), false},
		{"", false},
		{"a b", false},
		{"a.b", false},
		{"ä", false},
		{nil, true}, // null = absent = "default"
	}
	for _, tc := range tests {
		r := appendEvent(t, s, map[string]any{"tenant_id": tc.tenant, "entity_id": "e", "event_type": "t", "payload": map[string]any{}})
		if tc.ok {
			if r.status != 200 {
				t.Errorf("tenant %v: %d %s", tc.tenant, r.status, r.body)
			}
			continue
		}
		var e errorBody
		if r.status != 400 || json.Unmarshal(r.body, &e) != nil || !strings.HasPrefix(e.Error, "Invalid input: ") {
			t.Errorf("tenant %v: %d %s", tc.tenant, r.status, r.body)
		}
		q := request(t, nil, "GET", s.URL+"/api/v1/events/query?tenant_id="+url.QueryEscape(tc.tenant.(string)), bearer(s.APIKey), "")
		if q.status != 400 || !strings.HasPrefix(string(q.body), `{"error":"Invalid input: `) {
			t.Errorf("query tenant %v: %d %s", tc.tenant, q.status, q.body)
		}
	}
	if ev := s.Events(); ev[len(ev)-1].TenantID != "default" {
		t.Errorf("null tenant stored as %q", ev[len(ev)-1].TenantID)
	}
}

func TestAppendRequestErrors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	valid := `{"entity_id":"e","event_type":"t","payload":{}}`
	big := `{"entity_id":"e","event_type":"t","payload":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		errPrefix   string // for JSON {"error":…} answers
	}{
		{"no content type", "", valid, 415, ""},
		{"text/plain", "text/plain", valid, 415, ""},
		{"form", "application/x-www-form-urlencoded", valid, 415, ""},
		{"too large", "application/json", big, 413, ""},
		{"malformed", "application/json", `{"entity_id":`, 400, "Invalid input: "},
		{"trailing garbage", "application/json", valid + "x", 400, "Invalid input: "},
		{"empty", "application/json", "", 400, "Invalid input: "},
		{"not an object", "application/json", `[1]`, 422, ""},
		{"missing entity_id", "application/json", `{"event_type":"t","payload":{}}`, 422, ""},
		{"missing event_type", "application/json", `{"entity_id":"e","payload":{}}`, 422, ""},
		{"missing payload", "application/json", `{"entity_id":"e","event_type":"t"}`, 422, ""},
		{"null payload", "application/json", `{"entity_id":"e","event_type":"t","payload":null}`, 422, ""},
		{"entity_id not a string", "application/json", `{"entity_id":5,"event_type":"t","payload":{}}`, 422, ""},
		{"negative expected_version", "application/json", `{"entity_id":"e","event_type":"t","payload":{},"expected_version":-1}`, 422, ""},
		{"fractional expected_version", "application/json", `{"entity_id":"e","event_type":"t","payload":{},"expected_version":1.5}`, 422, ""},
		{"charset ok", "application/json; charset=utf-8", valid, 200, ""},
	}
	for _, tc := range tests {
		hdr := bearer(s.APIKey)
		if tc.contentType != "" {
			hdr.Set("Content-Type", tc.contentType)
		}
		r := request(t, nil, "POST", s.URL+"/api/v1/events", hdr, tc.body)
		if r.status != tc.status {
			t.Errorf("%s: %d %.200s, want %d", tc.name, r.status, r.body, tc.status)
			continue
		}
		if tc.status == 400 || tc.status == 422 {
			var e errorBody
			if json.Unmarshal(r.body, &e) != nil || !strings.HasPrefix(e.Error, tc.errPrefix) || e.Error == "" {
				t.Errorf("%s: body %s", tc.name, r.body)
			}
		}
	}
	if n := len(s.Events()); n != 1 {
		t.Errorf("%d events stored, want 1", n)
	}
}

func TestExpectedVersion(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	ev := func(expected any) map[string]any {
		return map[string]any{"entity_id": "auth-user:1", "event_type": "auth.user.created", "payload": map[string]any{}, "expected_version": expected}
	}
	if a := mustAppend(t, s, ev(0)); a.Version != 1 {
		t.Fatalf("version %d", a.Version)
	}
	r := appendEvent(t, s, ev(0))
	if r.status != 409 || r.text() != `{"error":"version_conflict","expected_version":0,"current_version":1}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
	r = appendEvent(t, s, ev(5))
	if r.status != 409 || r.text() != `{"error":"version_conflict","expected_version":5,"current_version":1}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if a := mustAppend(t, s, ev(1)); a.Version != 2 {
		t.Fatalf("version %d", a.Version)
	}
	if a := mustAppend(t, s, ev(nil)); a.Version != 3 { // null: no check
		t.Fatalf("version %d", a.Version)
	}
	if n := len(s.Events()); n != 3 {
		t.Errorf("%d events", n)
	}
}

func TestVersionsSharedAcrossTenants(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	ev := func(tenant string, expected uint64) map[string]any {
		return map[string]any{"tenant_id": tenant, "entity_id": "shared", "event_type": "t", "payload": map[string]any{}, "expected_version": expected}
	}
	mustAppend(t, s, ev("t1", 0))
	r := appendEvent(t, s, ev("t2", 0))
	if r.status != 409 || r.text() != `{"error":"version_conflict","expected_version":0,"current_version":1}` {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if a := mustAppend(t, s, ev("t2", 1)); a.Version != 2 {
		t.Fatalf("version %d", a.Version)
	}
	a := mustQuery(t, s.URL, bearer(s.APIKey), map[string][]string{"entity_id": {"shared"}, "tenant_id": {"t1"}})
	if a.Count != 1 || *a.EntityVersion != 2 {
		t.Errorf("t1 sees %+v", a)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, WithAPIKey("ask_t1", "t1"), WithAPIKey("ask_t2", "t2"))
	mustAppend(t, s, map[string]any{"tenant_id": "t1", "entity_id": "e", "event_type": "t", "payload": map[string]any{"n": 1}})
	mustAppend(t, s, map[string]any{"entity_id": "d", "event_type": "t", "payload": map[string]any{"n": 2}})

	// Core: tenant_id parameter, else the key's tenant.
	count := func(base string, hdr http.Header, params map[string][]string) int {
		return mustQuery(t, base, hdr, params).Count
	}
	checks := []struct {
		name   string
		base   string
		hdr    http.Header
		params map[string][]string
		want   int
	}{
		{"core t1 param", s.URL, bearer(s.APIKey), map[string][]string{"tenant_id": {"t1"}}, 1},
		{"core t2 param", s.URL, bearer(s.APIKey), map[string][]string{"tenant_id": {"t2"}}, 0},
		{"core default key", s.URL, bearer(s.APIKey), nil, 1},
		{"core t1 key", s.URL, bearer("ask_t1"), nil, 1},
		{"core t2 key", s.URL, bearer("ask_t2"), nil, 0},
		{"core t2 key by entity", s.URL, bearer("ask_t2"), map[string][]string{"entity_id": {"e"}}, 0},
		{"query t1 key", s.QueryURL, xAPIKey("ask_t1"), nil, 1},
		{"query t1 key own param", s.QueryURL, xAPIKey("ask_t1"), map[string][]string{"tenant_id": {"t1"}}, 1},
		{"query t2 key", s.QueryURL, xAPIKey("ask_t2"), nil, 0},
		{"query default key", s.QueryURL, xAPIKey(s.APIKey), map[string][]string{"entity_id": {"e"}}, 0},
	}
	for _, c := range checks {
		if got := count(c.base, c.hdr, c.params); got != c.want {
			t.Errorf("%s: %d events, want %d", c.name, got, c.want)
		}
	}
	ev := mustQuery(t, s.URL, bearer("ask_t1"), nil).Events[0]
	if ev.TenantID != "t1" || ev.EntityID != "e" {
		t.Errorf("event %+v", ev)
	}
}

// Both listeners read the tenant the tenant_id parameter names, else the key's: an
// Adapter WithTenant(t) reads what it wrote, through either.
func TestReadTenantFromParameterElseKey(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, WithAPIKey("ask_t1", "t1"))
	if _, err := s.Append("t2", "e", "x.created", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, base string
		hdr        http.Header
	}{
		{"query", s.QueryURL, xAPIKey("ask_t1")},
		{"core", s.URL, bearer("ask_t1")},
	} {
		if got := mustQuery(t, tc.base, tc.hdr, url.Values{"tenant_id": {"t2"}}).Events; len(got) != 1 || got[0].TenantID != "t2" {
			t.Errorf("%s with tenant_id=t2: %+v", tc.name, got)
		}
		if got := mustQuery(t, tc.base, tc.hdr, nil).Events; len(got) != 0 {
			t.Errorf("%s with the key's tenant t1: %+v", tc.name, got)
		}
	}
}
