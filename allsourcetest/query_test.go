package allsourcetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 9, 21, 10, 0, 0, 0, time.UTC)

// steppingClock returns t0+1s, t0+2s, … on successive calls.
func steppingClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n) * time.Second)
	}
}

// at is the timestamp of the k-th event (1-based) under steppingClock.
func at(k int) string { return t0.Add(time.Duration(k) * time.Second).Format(time.RFC3339) }

// querySeed fills s with six "default" events (timestamps t0+1s … t0+6s)
// and one in tenant t9.
func querySeed(t *testing.T, s *Server) {
	t.Helper()
	seed := []map[string]any{
		{"entity_id": "user:1", "event_type": "auth.user.created", "payload": json.RawMessage(`{"id":"1","email":"a@x","n":1}`)},
		{"entity_id": "user:2", "event_type": "auth.user.created", "payload": json.RawMessage(`{"id":"2","email":"b@x","n":2}`)},
		{"entity_id": "user:1", "event_type": "auth.user.updated", "payload": json.RawMessage(`{"id":"1","email":"a2@x","n":1.0}`)},
		{"entity_id": "sess:1", "event_type": "auth.session.created", "payload": json.RawMessage(`{"userId":"1"}`)},
		{"entity_id": "user:2", "event_type": "auth.user.deleted", "payload": json.RawMessage(`{"id":"2","_deleted":true,"tags":["a","b"],"nested":{"k":1}}`)},
		{"entity_id": "org:1", "event_type": "auth.org.created", "payload": json.RawMessage(`{"id":"o"}`), "metadata": map[string]any{"op": "m"}},
		{"tenant_id": "t9", "entity_id": "user:9", "event_type": "auth.user.created", "payload": json.RawMessage(`{"id":"1"}`)},
	}
	for _, e := range seed {
		mustAppend(t, s, e)
	}
}

func TestQueryParameters(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, WithClock(steppingClock()))
	querySeed(t, s)

	all := []string{"user:1/1", "user:2/1", "user:1/2", "sess:1/1", "user:2/2", "org:1/1"}
	tests := []struct {
		name    string
		params  url.Values
		want    []string
		total   int // -1: len(want)
		hasMore bool
	}{
		{"no filter", nil, all, -1, false},
		{"order asc", url.Values{"order": {"asc"}}, all, -1, false},
		{"order desc", url.Values{"order": {"desc"}}, []string{"org:1/1", "user:2/2", "sess:1/1", "user:1/2", "user:2/1", "user:1/1"}, -1, false},
		{"entity_id", url.Values{"entity_id": {"user:1"}}, []string{"user:1/1", "user:1/2"}, -1, false},
		{"entity_id unknown", url.Values{"entity_id": {"user:404"}}, nil, -1, false},
		{"entity_id and event_type", url.Values{"entity_id": {"user:1"}, "event_type": {"auth.user.updated"}}, []string{"user:1/2"}, -1, false},
		{"event_type", url.Values{"event_type": {"auth.user.created"}}, []string{"user:1/1", "user:2/1"}, -1, false},
		{"event_type unknown", url.Values{"event_type": {"auth.nope"}}, nil, -1, false},
		{"event_type_prefix", url.Values{"event_type_prefix": {"auth.user."}}, []string{"user:1/1", "user:2/1", "user:1/2", "user:2/2"}, -1, false},
		{"event_type_prefix no dot", url.Values{"event_type_prefix": {"auth.user"}}, []string{"user:1/1", "user:2/1", "user:1/2", "user:2/2"}, -1, false},
		{"event_type_prefix broad", url.Values{"event_type_prefix": {"auth."}}, all, -1, false},
		{"event_type_prefix empty", url.Values{"event_type_prefix": {""}}, all, -1, false},
		{"event_type_prefix desc", url.Values{"event_type_prefix": {"auth.user."}, "order": {"desc"}}, []string{"user:2/2", "user:1/2", "user:2/1", "user:1/1"}, -1, false},
		{"event_type and disjoint prefix", url.Values{"event_type": {"auth.user.created"}, "event_type_prefix": {"auth.session."}}, nil, -1, false},
		{"payload_filter", url.Values{"payload_filter": {`{"id":"1"}`}}, []string{"user:1/1", "user:1/2"}, -1, false},
		{"payload_filter two keys", url.Values{"payload_filter": {`{"id":"1","email":"a2@x"}`}}, []string{"user:1/2"}, -1, false},
		{"payload_filter miss", url.Values{"payload_filter": {`{"id":"404"}`}}, nil, -1, false},
		{"payload_filter case-sensitive key", url.Values{"payload_filter": {`{"ID":"1"}`}}, nil, -1, false},
		{"payload_filter type matters", url.Values{"payload_filter": {`{"id":1}`}}, nil, -1, false},
		{"payload_filter number 1", url.Values{"payload_filter": {`{"n":1}`}}, []string{"user:1/1"}, -1, false},
		{"payload_filter number 1.0", url.Values{"payload_filter": {`{"n":1.0}`}}, []string{"user:1/2"}, -1, false},
		{"payload_filter bool", url.Values{"payload_filter": {`{"_deleted":true}`}}, []string{"user:2/2"}, -1, false},
		{"payload_filter array", url.Values{"payload_filter": {`{"tags":["a","b"]}`}}, []string{"user:2/2"}, -1, false},
		{"payload_filter array order", url.Values{"payload_filter": {`{"tags":["b","a"]}`}}, nil, -1, false},
		{"payload_filter object", url.Values{"payload_filter": {`{"nested":{"k":1}}`}}, []string{"user:2/2"}, -1, false},
		{"payload_filter nested key is not top-level", url.Values{"payload_filter": {`{"k":1}`}}, nil, -1, false},
		{"payload_filter empty object", url.Values{"payload_filter": {`{}`}}, all, -1, false},
		{"payload_filter with prefix", url.Values{"event_type_prefix": {"auth.user."}, "payload_filter": {`{"id":"2"}`}}, []string{"user:2/1", "user:2/2"}, -1, false},
		{"since", url.Values{"since": {at(3)}}, all[2:], -1, false},
		{"until", url.Values{"until": {at(2)}}, all[:2], -1, false},
		{"as_of", url.Values{"as_of": {at(4)}}, all[:4], -1, false},
		{"since and until", url.Values{"since": {at(2)}, "until": {at(4)}}, all[1:4], -1, false},
		{"since with offset zone", url.Values{"since": {t0.Add(5 * time.Second).In(time.FixedZone("X", 2*3600)).Format(time.RFC3339Nano)}}, all[4:], -1, false},
		{"as_of entity", url.Values{"entity_id": {"user:1"}, "as_of": {at(2)}}, []string{"user:1/1"}, -1, false},
		{"limit", url.Values{"limit": {"2"}}, all[:2], 6, true},
		{"limit 0", url.Values{"limit": {"0"}}, nil, 6, true},
		{"offset", url.Values{"offset": {"4"}}, all[4:], 6, false},
		{"offset and limit", url.Values{"offset": {"1"}, "limit": {"2"}}, all[1:3], 6, true},
		{"offset and limit to the end", url.Values{"offset": {"4"}, "limit": {"2"}}, all[4:], 6, false},
		{"offset past the end", url.Values{"offset": {"10"}}, nil, 6, false},
		{"limit above total", url.Values{"limit": {"100"}}, all, -1, false},
		{"latest of entity", url.Values{"entity_id": {"user:1"}, "order": {"desc"}, "limit": {"1"}}, []string{"user:1/2"}, 2, true},
		{"desc offset limit", url.Values{"order": {"desc"}, "offset": {"1"}, "limit": {"1"}}, []string{"user:2/2"}, 6, true},
		{"other tenant", url.Values{"tenant_id": {"t9"}}, []string{"user:9/1"}, -1, false},
		{"unknown tenant", url.Values{"tenant_id": {"nobody"}}, nil, -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := request(t, nil, "GET", s.URL+"/api/v1/events/query?"+tc.params.Encode(), bearer(s.APIKey), "")
			if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var a queryAnswer
			r.json(t, &a)
			var got []string
			for _, e := range a.Events {
				got = append(got, fmt.Sprintf("%s/%d", e.EntityID, e.Version))
			}
			if !equalSlices(got, tc.want) {
				t.Errorf("events %v, want %v", got, tc.want)
			}
			total := tc.total
			if total < 0 {
				total = len(tc.want)
			}
			if a.Count != len(tc.want) || a.TotalCount != total || a.HasMore != tc.hasMore {
				t.Errorf("count %d total_count %d has_more %v, want %d %d %v", a.Count, a.TotalCount, a.HasMore, len(tc.want), total, tc.hasMore)
			}
			if !strings.Contains(string(r.body), `"events":[`) {
				t.Errorf("events not a list: %s", r.body)
			}
			_, hasEntity := tc.params["entity_id"]
			if hasEntity != strings.Contains(string(r.body), `"entity_version"`) {
				t.Errorf("entity_version presence wrong: %s", r.body)
			}
			if hasEntity {
				want := map[string]uint64{"user:1": 2, "user:404": 0}[tc.params.Get("entity_id")]
				if a.EntityVersion == nil || *a.EntityVersion != want {
					t.Errorf("entity_version %v, want %d", a.EntityVersion, want)
				}
			}
		})
	}
}

func TestQueryEventFields(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, WithClock(steppingClock()))
	querySeed(t, s)
	r := request(t, nil, "GET", s.QueryURL+"/api/v1/events/query?entity_id=org:1", xAPIKey(s.APIKey), "")
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	stored := s.Events()[5]
	want := fmt.Sprintf(`{"events":[{"id":%q,"event_type":"auth.org.created","entity_id":"org:1","tenant_id":"default","payload":{"id":"o"},"timestamp":"2026-09-21T10:00:06Z","metadata":{"op":"m"},"version":1}],"count":1,"total_count":1,"has_more":false,"entity_version":1}`, stored.ID)
	if r.text() != want {
		t.Errorf("got  %s\nwant %s", r.body, want)
	}
	r = request(t, nil, "GET", s.URL+"/api/v1/events/query?entity_id=user:1&limit=1", bearer(s.APIKey), "")
	var raw struct {
		Events []map[string]json.RawMessage `json:"events"`
	}
	r.json(t, &raw)
	if m := string(raw.Events[0]["metadata"]); m != "null" {
		t.Errorf("metadata %s", m)
	}
	r = request(t, nil, "GET", s.URL+"/api/v1/events/query?event_type=none", bearer(s.APIKey), "")
	if r.text() != `{"events":[],"count":0,"total_count":0,"has_more":false}` {
		t.Errorf("empty answer %s", r.body)
	}
}

func TestQueryBadParameters(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	tests := []struct {
		name, query string
		jsonBody    bool // {"error":"Invalid input: …"}; else text/plain
	}{
		{"since", "since=yesterday", false},
		{"since date only", "since=2026-09-21", false},
		{"until", "until=2026-09-21T10:00:00", false},
		{"as_of", "as_of=x", false},
		{"empty since", "since=", false},
		{"offset negative", "offset=-1", false},
		{"offset word", "offset=abc", false},
		{"limit negative", "limit=-1", false},
		{"limit fraction", "limit=1.5", false},
		{"limit empty", "limit=", false},
		{"order", "order=newest", true},
		{"order upper", "order=DESC", true},
		{"payload_filter array", "payload_filter=" + url.QueryEscape(`[1]`), true},
		{"payload_filter string", "payload_filter=" + url.QueryEscape(`"x"`), true},
		{"payload_filter null", "payload_filter=null", true},
		{"payload_filter invalid", "payload_filter=" + url.QueryEscape(`{"a":`), true},
		{"payload_filter trailing", "payload_filter=" + url.QueryEscape(`{"a":1}x`), true},
	}
	for _, base := range []struct {
		url string
		hdr http.Header
	}{{s.URL, bearer(s.APIKey)}, {s.QueryURL, xAPIKey(s.APIKey)}} {
		for _, tc := range tests {
			r := request(t, nil, "GET", base.url+"/api/v1/events/query?"+tc.query, base.hdr, "")
			if r.status != 400 {
				t.Errorf("%s: %d %s", tc.name, r.status, r.body)
				continue
			}
			ct := r.header.Get("Content-Type")
			if tc.jsonBody {
				var e errorBody
				if ct != "application/json" || json.Unmarshal(r.body, &e) != nil || !strings.HasPrefix(e.Error, "Invalid input: ") {
					t.Errorf("%s: %s %s", tc.name, ct, r.body)
				}
			} else if !strings.HasPrefix(ct, "text/plain") || len(r.body) == 0 {
				t.Errorf("%s: %s %s", tc.name, ct, r.body)
			}
		}
	}
}

func TestTimestampsStrictlyIncreasing(t *testing.T) {
	t.Parallel()
	fixed := t0.In(time.FixedZone("X", 3600))
	s := newTestServer(t, WithClock(func() time.Time { return fixed }))
	var stamps []string
	for i := 0; i < 3; i++ {
		stamps = append(stamps, mustAppend(t, s, map[string]any{"entity_id": "e", "event_type": "t", "payload": map[string]any{}}).Timestamp)
	}
	if _, err := s.Append("", "e", "t", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"2026-09-21T10:00:00Z", "2026-09-21T10:00:00.000000001Z", "2026-09-21T10:00:00.000000002Z"}
	if !equalSlices(stamps, want) {
		t.Errorf("timestamps %v, want %v", stamps, want)
	}
	ev := s.Events()
	for i, e := range ev {
		if wantTS := t0.Add(time.Duration(i)); !e.Timestamp.Equal(wantTS) || e.Timestamp.Location() != time.UTC {
			t.Errorf("event %d at %v, want %v", i, e.Timestamp, wantTS)
		}
	}
	// A clock going backwards is still bumped past the previous event.
	back := newTestServer(t, WithClock(steppingBackClock()))
	for i := 0; i < 3; i++ {
		if _, err := back.Append("", "e", "t", map[string]any{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	bev := back.Events()
	for i := 1; i < len(bev); i++ {
		if !bev[i].Timestamp.After(bev[i-1].Timestamp) {
			t.Errorf("timestamps not increasing: %v", bev)
		}
	}
}

func steppingBackClock() func() time.Time {
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(-time.Duration(n) * time.Hour)
	}
}
