package allsourcetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// Event is one stored event, as returned by [Server.Events].
type Event struct {
	ID, EventType, EntityID, TenantID string
	Payload, Metadata                 json.RawMessage
	Timestamp                         time.Time
	Version                           uint64
}

// record is an immutable stored event plus what queries need to match it fast.
type record struct {
	seq    uint64 // global append order; timestamps strictly increase with it
	ev     Event
	ts     string         // ev.Timestamp in RFC 3339 (nanoseconds, UTC)
	fields map[string]any // top-level payload decoded with UseNumber; nil if not an object
}

// entityState is the per-entity_id version counter (shared across tenants)
// and the entity's events in append order.
type entityState struct {
	version uint64
	events  []*record
}

// store is the in-memory, indexed event store shared by both listeners.
type store struct {
	mu       sync.RWMutex
	all      []*record
	entities map[string]*entityState
	types    map[string][]*record
	last     time.Time
	now      func() time.Time
}

func newStore() *store {
	return &store{
		entities: make(map[string]*entityState),
		types:    make(map[string][]*record),
		now:      time.Now,
	}
}

// conflictError reports a failed expected_version check.
type conflictError struct {
	expected, current uint64
}

func (e *conflictError) Error() string {
	return fmt.Sprintf("version conflict: expected version %d, current version %d", e.expected, e.current)
}

// validationError is a 400 "Validation error: …".
type validationError struct{ msg string }

func (e *validationError) Error() string { return "Validation error: " + e.msg }

// inputError is a 400 "Invalid input: …".
type inputError struct{ msg string }

func (e *inputError) Error() string { return "Invalid input: " + e.msg }

// validTenant reports whether t is 1–64 characters of [A-Za-z0-9_-].
func validTenant(t string) bool {
	if len(t) == 0 || len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func checkTenant(t string) error {
	if !validTenant(t) {
		return &inputError{fmt.Sprintf("tenant_id must be 1-64 characters of [A-Za-z0-9_-], got %q", t)}
	}
	return nil
}

// checkEventType enforces 1–128 characters of [a-z0-9._], no leading or
// trailing dot and no "..".
func checkEventType(t string) error {
	if len(t) == 0 || len(t) > 128 {
		return &validationError{fmt.Sprintf("event_type must be 1-128 characters, got %d", len(t))}
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return &validationError{fmt.Sprintf("event_type %q may contain only lowercase letters, digits, '.' and '_'", t)}
		}
	}
	if t[0] == '.' || t[len(t)-1] == '.' {
		return &validationError{fmt.Sprintf("event_type %q must not start or end with '.'", t)}
	}
	if strings.Contains(t, "..") {
		return &validationError{fmt.Sprintf("event_type %q must not contain '..'", t)}
	}
	return nil
}

// checkEntityID enforces 1–128 bytes, no control characters, not all blank.
func checkEntityID(id string) error {
	if len(id) == 0 || len(id) > 128 {
		return &validationError{fmt.Sprintf("entity_id must be 1-128 characters, got %d", len(id))}
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return &validationError{"entity_id must not contain control characters"}
		}
	}
	if strings.TrimSpace(id) == "" {
		return &validationError{"entity_id must not be blank"}
	}
	return nil
}

// decodeFields decodes the top-level members of a JSON object payload.
func decodeFields(payload []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil
	}
	return m
}

// append stores one event. payload and metadata must be valid, compact JSON.
// When expected is non-nil the entity's current version (per entity_id,
// across tenants) must equal *expected; check and append happen under one lock.
func (s *store) append(tenant, entityID, eventType string, payload, metadata json.RawMessage, expected *uint64) (*record, error) {
	if err := checkTenant(tenant); err != nil {
		return nil, err
	}
	if err := checkEventType(eventType); err != nil {
		return nil, err
	}
	if err := checkEntityID(entityID); err != nil {
		return nil, err
	}
	if len(metadata) == 0 {
		metadata = json.RawMessage("null")
	}
	fields := decodeFields(payload)

	s.mu.Lock()
	defer s.mu.Unlock()
	ent := s.entities[entityID]
	var current uint64
	if ent != nil {
		current = ent.version
	}
	if expected != nil && *expected != current {
		return nil, &conflictError{expected: *expected, current: current}
	}
	ts := s.now().Round(0).UTC()
	if !ts.After(s.last) {
		ts = s.last.Add(time.Nanosecond)
	}
	s.last = ts
	rec := &record{
		seq: uint64(len(s.all)) + 1,
		ev: Event{
			ID:        uuid.NewString(),
			EventType: eventType,
			EntityID:  entityID,
			TenantID:  tenant,
			Payload:   payload,
			Metadata:  metadata,
			Timestamp: ts,
			Version:   current + 1,
		},
		ts:     ts.Format(time.RFC3339Nano),
		fields: fields,
	}
	if ent == nil {
		ent = &entityState{}
		s.entities[entityID] = ent
	}
	ent.version = rec.ev.Version
	ent.events = append(ent.events, rec)
	s.types[eventType] = append(s.types[eventType], rec)
	s.all = append(s.all, rec)
	return rec, nil
}

// events returns a deep copy of every stored event in append order.
func (s *store) events() []Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Event, len(s.all))
	for i, r := range s.all {
		e := r.ev
		e.Payload = append(json.RawMessage(nil), e.Payload...)
		e.Metadata = append(json.RawMessage(nil), e.Metadata...)
		out[i] = e
	}
	return out
}

// query is a parsed /api/v1/events/query request.
type query struct {
	tenant          string
	entityID        *string
	eventType       *string
	eventTypePrefix *string
	payloadFilter   map[string]any
	since, until    *time.Time
	asOf            *time.Time
	desc            bool
	offset          uint64
	limit           *uint64
}

// queryResult holds the page of matches and the counts around it.
type queryResult struct {
	page          []*record
	total         int
	entityVersion uint64
}

// candidates picks the smallest index that covers q. The returned slice is
// in append (seq) order and must not be modified.
func (s *store) candidates(q *query) []*record {
	switch {
	case q.entityID != nil:
		if ent := s.entities[*q.entityID]; ent != nil {
			return ent.events
		}
		return nil
	case q.eventType != nil:
		return s.types[*q.eventType]
	case q.eventTypePrefix != nil && *q.eventTypePrefix != "":
		var lists [][]*record
		n := 0
		for t, recs := range s.types {
			if strings.HasPrefix(t, *q.eventTypePrefix) {
				lists = append(lists, recs)
				n += len(recs)
			}
		}
		switch len(lists) {
		case 0:
			return nil
		case 1:
			return lists[0]
		}
		merged := make([]*record, 0, n)
		for _, l := range lists {
			merged = append(merged, l...)
		}
		sort.Slice(merged, func(i, j int) bool { return merged[i].seq < merged[j].seq })
		return merged
	default:
		return s.all
	}
}

func (q *query) matches(r *record) bool {
	e := &r.ev
	if e.TenantID != q.tenant {
		return false
	}
	if q.entityID != nil && e.EntityID != *q.entityID {
		return false
	}
	if q.eventType != nil && e.EventType != *q.eventType {
		return false
	}
	if q.eventTypePrefix != nil && !strings.HasPrefix(e.EventType, *q.eventTypePrefix) {
		return false
	}
	if q.since != nil && e.Timestamp.Before(*q.since) {
		return false
	}
	if q.until != nil && e.Timestamp.After(*q.until) {
		return false
	}
	if q.asOf != nil && e.Timestamp.After(*q.asOf) {
		return false
	}
	if q.payloadFilter != nil {
		if r.fields == nil {
			return false
		}
		for k, want := range q.payloadFilter {
			got, ok := r.fields[k]
			if !ok || !reflect.DeepEqual(got, want) {
				return false
			}
		}
	}
	return true
}

// run executes q: filter, order, offset, limit.
func (s *store) run(q *query) queryResult {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var res queryResult
	if q.entityID != nil {
		if ent := s.entities[*q.entityID]; ent != nil {
			res.entityVersion = ent.version
		}
	}
	cands := s.candidates(q)
	var matched []*record
	for _, r := range cands {
		if q.matches(r) {
			matched = append(matched, r)
		}
	}
	res.total = len(matched)
	if q.desc {
		for i, j := 0, len(matched)-1; i < j; i, j = i+1, j-1 {
			matched[i], matched[j] = matched[j], matched[i]
		}
	}
	if q.offset >= uint64(len(matched)) {
		matched = nil
	} else {
		matched = matched[q.offset:]
	}
	if q.limit != nil && *q.limit < uint64(len(matched)) {
		matched = matched[:*q.limit]
	}
	res.page = matched
	return res
}
