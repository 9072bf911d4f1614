package allsourcetest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"testing"
)

func TestEventsCopy(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	if ev := s.Events(); len(ev) != 0 {
		t.Fatalf("events at start: %v", ev)
	}
	mustAppend(t, s, map[string]any{"tenant_id": "t1", "entity_id": "a", "event_type": "x.created", "payload": map[string]any{"k": "v"}})
	if _, err := s.Append("t2", "b", "x.updated", json.RawMessage(`{"k": "w"}`), map[string]string{"op": "1"}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, map[string]any{"entity_id": "a", "event_type": "x.updated", "payload": map[string]any{}})
	ev := s.Events()
	got := fmt.Sprintf("%s/%s/%s/%d %s/%s/%s/%d %s/%s/%s/%d",
		ev[0].TenantID, ev[0].EntityID, ev[0].EventType, ev[0].Version,
		ev[1].TenantID, ev[1].EntityID, ev[1].EventType, ev[1].Version,
		ev[2].TenantID, ev[2].EntityID, ev[2].EventType, ev[2].Version)
	if got != "t1/a/x.created/1 t2/b/x.updated/1 default/a/x.updated/2" {
		t.Errorf("events %s", got)
	}
	if string(ev[1].Payload) != `{"k":"w"}` || string(ev[1].Metadata) != `{"op":"1"}` {
		t.Errorf("payload %s metadata %s", ev[1].Payload, ev[1].Metadata)
	}
	// The copy is deep: changing it does not change the store.
	ev[0].Payload[2] = 'X'
	ev[0].EntityID = "changed"
	if again := s.Events(); string(again[0].Payload) != `{"k":"v"}` || again[0].EntityID != "a" {
		t.Errorf("store changed through the copy: %+v", again[0])
	}
}

func TestAppendMethodValidation(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	bad := []struct {
		tenant, entity, eventType string
		payload                   any
	}{
		{"bad tenant", "e", "t", map[string]any{}},
		{"", "", "t", map[string]any{}},
		{"", "e", "Bad", map[string]any{}},
		{"", "e", "t", nil},
		{"", "e", "t", func() {}},
	}
	for _, b := range bad {
		if _, err := s.Append(b.tenant, b.entity, b.eventType, b.payload, nil); err == nil {
			t.Errorf("Append(%q, %q, %q) succeeded", b.tenant, b.entity, b.eventType)
		}
	}
	if v, err := s.Append("", "e", "t", map[string]any{}, nil); err != nil || v != 1 {
		t.Errorf("Append = %d, %v", v, err)
	}
	if v, _ := s.Append("other", "e", "t", map[string]any{}, nil); v != 2 {
		t.Errorf("version across tenants %d, want 2", v)
	}
	if s.Requests() != 0 {
		t.Errorf("Append counted as requests: %d", s.Requests())
	}
}

func TestConcurrentCreate(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	const n = 16
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = appendEvent(t, s, map[string]any{
				"entity_id": "race", "event_type": "t", "payload": map[string]any{"i": i}, "expected_version": 0,
			}).status
		}(i)
	}
	wg.Wait()
	ok, conflict := 0, 0
	for _, st := range statuses {
		switch st {
		case 200:
			ok++
		case 409:
			conflict++
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Errorf("statuses %v: %d ok, %d conflicts", statuses, ok, conflict)
	}
	if ev := s.Events(); len(ev) != 1 || ev[0].Version != 1 {
		t.Errorf("events %+v", ev)
	}
}

func TestConcurrentMixed(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := s.Append("", fmt.Sprintf("e%d", i%3), "t", map[string]any{"g": g}, nil); err != nil {
					t.Error(err)
				}
				_ = s.Events()
				queryCore(t, s, url.Values{"entity_id": {"e1"}, "order": {"desc"}, "limit": {"1"}})
			}
		}(g)
	}
	wg.Wait()
	a := queryCore(t, s, url.Values{"entity_id": {"e1"}})
	for i, e := range a.Events {
		if e.Version != uint64(i+1) {
			t.Fatalf("versions %v", versions(a))
		}
	}
	if len(s.Events()) != 160 {
		t.Errorf("%d events", len(s.Events()))
	}
}

func TestLargeStore(t *testing.T) {
	t.Parallel()
	s := newTestServer(t)
	const n = 100_000
	payload := json.RawMessage(`{"id":"x"}`)
	for i := 0; i < n; i++ {
		typ := "bulk.created"
		if i%1000 == 0 {
			typ = "rare.created"
		}
		if _, err := s.Append("", fmt.Sprintf("bulk:%d", i%20_000), typ, payload, nil); err != nil {
			t.Fatal(err)
		}
	}
	a := queryCore(t, s, url.Values{"entity_id": {"bulk:12345"}})
	if !equalSlices(versions(a), []uint64{1, 2, 3, 4, 5}) || *a.EntityVersion != 5 || a.TotalCount != 5 {
		t.Errorf("entity query: versions %v entity_version %v total %d", versions(a), a.EntityVersion, a.TotalCount)
	}
	a = queryCore(t, s, url.Values{"entity_id": {"bulk:12345"}, "order": {"desc"}, "limit": {"1"}})
	if a.Count != 1 || a.Events[0].Version != 5 || !a.HasMore {
		t.Errorf("latest: %+v", a)
	}
	a = queryCore(t, s, url.Values{"event_type_prefix": {"rare."}, "limit": {"10"}})
	if a.TotalCount != n/1000 || a.Count != 10 || !a.HasMore {
		t.Errorf("rare: count %d total %d", a.Count, a.TotalCount)
	}
}
