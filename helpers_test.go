package allsourceauth_test

// Helpers shared by every test file of the package: stores and clocks, entity set-up,
// the stored events, claims, JSON payloads, request counting, comparisons, expected
// errors and concurrent races.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// ---------------------------------------------------------------------------------------
// Stores and clocks

// epoch starts the test clocks: UTC, with nanoseconds so round trips check precision.
var epoch = time.Date(2026, 9, 21, 10, 0, 5, 481922317, time.UTC)

// zonedEpoch is a clock start in a non-UTC zone, with nanoseconds (stored back in UTC).
var zonedEpoch = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("UTC+05:30", 5*3600+1800))

// newServer starts an in-memory Allsource that closes with the test.
func newServer(t testing.TB, opts ...allsourcetest.Option) *allsourcetest.Server {
	t.Helper()
	srv := allsourcetest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

// newStore starts an in-memory Allsource and an Adapter on it, closed with the test.
func newStore(t testing.TB, opts ...allsourceauth.Option) (*allsourceauth.Adapter, *allsourcetest.Server) {
	t.Helper()
	srv := newServer(t)
	return newAdapter(t, srv, opts...), srv
}

// newStoreAt is newStore with the Adapter's clock set to a testClock starting at start.
func newStoreAt(t testing.TB, start time.Time, opts ...allsourceauth.Option) (*allsourceauth.Adapter, *allsourcetest.Server, *testClock) {
	t.Helper()
	clk := newClock(start)
	a, srv := newStore(t, append([]allsourceauth.Option{allsourceauth.WithClock(clk.Now)}, opts...)...)
	return a, srv, clk
}

// newAdapter returns another Adapter on srv: a second app server sharing one Allsource.
func newAdapter(t testing.TB, srv *allsourcetest.Server, opts ...allsourceauth.Option) *allsourceauth.Adapter {
	t.Helper()
	return newAdapterWithKey(t, srv, srv.APIKey, opts...)
}

// newAdapterWithKey returns an Adapter on srv that authenticates with key.
func newAdapterWithKey(t testing.TB, srv *allsourcetest.Server, key string, opts ...allsourceauth.Option) *allsourceauth.Adapter {
	t.Helper()
	a, err := allsourceauth.New(srv.URL, srv.QueryURL, key, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// testClock is a settable clock for WithClock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

// newClock returns a testClock set to t.
func newClock(t time.Time) *testClock { return &testClock{now: t} }

// Now returns the clock's time.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// ---------------------------------------------------------------------------------------
// Entities

// createUser creates a user, failing the test on error.
func createUser(t *testing.T, a *allsourceauth.Adapter, in allsourceauth.CreateUser) *allsourceauth.User {
	t.Helper()
	u, err := a.CreateUser(t.Context(), in)
	require.NoError(t, err)
	return u
}

// createSession creates a session of userID, failing the test on error.
func createSession(t *testing.T, a *allsourceauth.Adapter, userID string, expires time.Time) *allsourceauth.Session {
	t.Helper()
	s, err := a.CreateSession(t.Context(), allsourceauth.CreateSession{UserID: userID, ExpiresAt: expires})
	require.NoError(t, err)
	return s
}

// requireUserReads checks that every read of u returns u: by id, by email, by username.
func requireUserReads(t *testing.T, a *allsourceauth.Adapter, u *allsourceauth.User) {
	t.Helper()
	ctx := t.Context()
	got, err := a.GetUserByID(ctx, u.ID)
	require.NoError(t, err)
	same(t, u, got)
	if u.Email != "" {
		got, err = a.GetUserByEmail(ctx, u.Email)
		require.NoError(t, err)
		same(t, u, got)
	}
	if u.Username != "" {
		got, err = a.GetUserByUsername(ctx, u.Username)
		require.NoError(t, err)
		same(t, u, got)
	}
}

// requireSessionReads checks that GetSession returns s.
func requireSessionReads(t *testing.T, a *allsourceauth.Adapter, s *allsourceauth.Session) {
	t.Helper()
	got, err := a.GetSession(t.Context(), s.Token)
	require.NoError(t, err)
	same(t, s, got)
}

// ---------------------------------------------------------------------------------------
// Stored events

// eventsWhere returns the stored events for which keep holds, in append order.
func eventsWhere(srv *allsourcetest.Server, keep func(allsourcetest.Event) bool) []allsourcetest.Event {
	var out []allsourcetest.Event
	for _, ev := range srv.Events() {
		if keep(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// eventsOf returns the stored events of one entity, in append order.
func eventsOf(srv *allsourcetest.Server, entityID string) []allsourcetest.Event {
	return eventsWhere(srv, func(ev allsourcetest.Event) bool { return ev.EntityID == entityID })
}

// eventsOfType returns the stored events of one type, in append order.
func eventsOfType(srv *allsourcetest.Server, eventType string) []allsourcetest.Event {
	return eventsWhere(srv, func(ev allsourcetest.Event) bool { return ev.EventType == eventType })
}

// isClaim reports whether ev is an event of a claim entity.
func isClaim(ev allsourcetest.Event) bool { return strings.HasPrefix(ev.EntityID, "auth-claim:") }

// lastEvent returns the newest stored event of one entity.
func lastEvent(t *testing.T, srv *allsourcetest.Server, entityID string) allsourcetest.Event {
	t.Helper()
	evs := eventsOf(srv, entityID)
	require.NotEmpty(t, evs, "no events for %s", entityID)
	return evs[len(evs)-1]
}

// countEvents counts the stored events of eventType whose payload holds all of fields.
func countEvents(t *testing.T, srv *allsourcetest.Server, eventType string, fields map[string]string) int {
	t.Helper()
	n := 0
outer:
	for _, ev := range eventsOfType(srv, eventType) {
		p := payloadOf(t, ev.Payload)
		for k, v := range fields {
			if p[k] != v {
				continue outer
			}
		}
		n++
	}
	return n
}

// requireOp checks an event's metadata is exactly {"op": <uuid>} and returns the op.
func requireOp(t *testing.T, ev allsourcetest.Event) string {
	t.Helper()
	var m map[string]string
	require.NoError(t, json.Unmarshal(ev.Metadata, &m), "metadata %s", ev.Metadata)
	require.Len(t, m, 1, "metadata %s", ev.Metadata)
	_, err := uuid.Parse(m["op"])
	require.NoError(t, err, "op of %s", ev.Metadata)
	return m["op"]
}

// checkEvent asserts entityID's newest event: its type, payload keys (want) and state.
func checkEvent(t *testing.T, srv *allsourcetest.Server, entityID, eventType string, state any, want ...string) allsourcetest.Event {
	t.Helper()
	ev := lastEvent(t, srv, entityID)
	assert.Equal(t, eventType, ev.EventType)
	assert.Equal(t, sorted(want...), jsonKeys(t, ev.Payload), "payload keys of %s", eventType)
	b, err := json.Marshal(state)
	require.NoError(t, err)
	assert.JSONEq(t, string(b), string(ev.Payload))
	return ev
}

// checkTombstone asserts entityID's newest event is eventType: prior state + "_deleted".
func checkTombstone(t *testing.T, srv *allsourcetest.Server, entityID, eventType string) {
	t.Helper()
	evs := eventsOf(srv, entityID)
	require.GreaterOrEqual(t, len(evs), 2, "no tombstone for %s", entityID)
	last, prev := evs[len(evs)-1], evs[len(evs)-2]
	assert.Equal(t, eventType, last.EventType)
	want := payloadOf(t, prev.Payload)
	want["_deleted"] = true
	assert.Equal(t, want, payloadOf(t, last.Payload))
}

// ---------------------------------------------------------------------------------------
// Claims

// claimID is auth-claim:{scope}:{base64url(SHA-256([tenant NUL] value))}, as adapter.go.
func claimID(tenant, scope, value string) string {
	h := sha256.New()
	if tenant != "" {
		h.Write([]byte(tenant + "\x00"))
	}
	h.Write([]byte(value))
	return "auth-claim:" + scope + ":" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// claim is the payload of a claim event.
type claim struct {
	Scope        string `json:"scope"`
	Owner        string `json:"owner"`
	OwnerVersion uint64 `json:"ownerVersion"`
}

// claimPayload is the payload of an auth.claim.acquired event.
func claimPayload(scope, owner string, ownerVersion uint64) json.RawMessage {
	b, _ := json.Marshal(claim{scope, owner, ownerVersion}) // cannot fail
	return b
}

// decodeClaim decodes a claim event's payload, checking its exact key set.
func decodeClaim(t *testing.T, ev allsourcetest.Event) (scope, owner string, ownerVersion uint64) {
	t.Helper()
	require.Equal(t, []string{"owner", "ownerVersion", "scope"}, jsonKeys(t, ev.Payload), "claim payload %s", ev.Payload)
	var c claim
	require.NoError(t, json.Unmarshal(ev.Payload, &c))
	return c.Scope, c.Owner, c.OwnerVersion
}

// ---------------------------------------------------------------------------------------
// JSON

// payloadOf decodes a JSON object's top-level members (numbers kept exact).
func payloadOf(t *testing.T, payload json.RawMessage) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var m map[string]any
	require.NoError(t, d.Decode(&m), "payload %s", payload)
	return m
}

// jsonKeys returns the sorted top-level keys of v's JSON (v may be a json.RawMessage).
func jsonKeys(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m), "JSON %s", b)
	return slices.Sorted(maps.Keys(m))
}

// sorted returns keys sorted, as a new slice.
func sorted(keys ...string) []string { return slices.Sorted(slices.Values(keys)) }

// ---------------------------------------------------------------------------------------
// Requests

// requestsDuring runs fn and returns how many requests srv received meanwhile.
func requestsDuring(srv *allsourcetest.Server, fn func()) int64 {
	before := srv.Requests()
	fn()
	return srv.Requests() - before
}

// requestsOf runs f, requires it to succeed and returns how many requests it sent.
func requestsOf(t *testing.T, srv *allsourcetest.Server, f func() error, msgAndArgs ...any) int64 {
	t.Helper()
	var err error
	n := requestsDuring(srv, func() { err = f() })
	require.NoError(t, err, msgAndArgs...)
	return n
}

// noRequests runs f, asserts that it sent no request and returns f's error.
func noRequests(t *testing.T, srv *allsourcetest.Server, f func() error) error {
	t.Helper()
	var err error
	assert.Zero(t, requestsDuring(srv, func() { err = f() }), "requests were sent")
	return err
}

// notFoundWithoutRequests asserts that each f returns ErrNotFound without a request.
func notFoundWithoutRequests(t *testing.T, srv *allsourcetest.Server, fs ...func() error) {
	t.Helper()
	for _, f := range fs {
		require.ErrorIs(t, noRequests(t, srv, f), allsourceauth.ErrNotFound)
	}
}

// ---------------------------------------------------------------------------------------
// Expected errors

// wantConflict runs f, asserts ErrConflict and that no non-claim event was written.
func wantConflict(t *testing.T, srv *allsourcetest.Server, f func() error) {
	t.Helper()
	entityEvents := func() int { return len(srv.Events()) - len(eventsWhere(srv, isClaim)) }
	before := entityEvents()
	require.ErrorIs(t, f(), allsourceauth.ErrConflict)
	assert.Equal(t, before, entityEvents(), "entity events written by a conflicting call")
}

// wantInvalid runs f, asserts ErrInvalidInput and that no request was sent.
func wantInvalid(t *testing.T, srv *allsourcetest.Server, f func() error) {
	t.Helper()
	require.ErrorIs(t, noRequests(t, srv, f), allsourceauth.ErrInvalidInput)
}

// ---------------------------------------------------------------------------------------
// Comparisons

// sameTime checks two times are one instant and both (when set) in UTC.
func sameTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	assert.True(t, want.Equal(got), "%s: want %s, got %s", what, want, got)
	if !got.IsZero() {
		assert.True(t, got.Location() == time.UTC, "%s: not in UTC: %s", what, got)
	}
	if !want.IsZero() {
		assert.True(t, want.Location() == time.UTC, "%s: not in UTC: %s", what, want)
	}
}

// same checks two structs (or pointers) are equal, time.Time fields with sameTime.
func same(t *testing.T, want, got any) {
	t.Helper()
	w, g := reflect.ValueOf(want), reflect.ValueOf(got)
	if w.Kind() == reflect.Pointer {
		require.False(t, w.IsNil(), "want is nil")
		w = w.Elem()
	}
	if g.Kind() == reflect.Pointer {
		require.False(t, g.IsNil(), "got is nil")
		g = g.Elem()
	}
	require.Equal(t, w.Type(), g.Type())
	wc, gc := reflect.New(w.Type()).Elem(), reflect.New(g.Type()).Elem()
	wc.Set(w)
	gc.Set(g)
	timeType := reflect.TypeFor[time.Time]()
	for i := range wc.NumField() {
		if wc.Field(i).Type() != timeType {
			continue
		}
		sameTime(t, wc.Field(i).Interface().(time.Time), gc.Field(i).Interface().(time.Time), wc.Type().Field(i).Name)
		wc.Field(i).Set(reflect.Zero(timeType))
		gc.Field(i).Set(reflect.Zero(timeType))
	}
	assert.Equal(t, wc.Interface(), gc.Interface())
}

// assertUUID4 asserts that s is a UUID v4.
func assertUUID4(t *testing.T, s string) {
	t.Helper()
	u, err := uuid.Parse(s)
	require.NoError(t, err, "%q is not a UUID", s)
	assert.Equal(t, uuid.Version(4), u.Version())
}

// ---------------------------------------------------------------------------------------
// Races

// race runs fn(i, adapters[i%len(adapters)]) for every i < n at once; it returns the errors.
func race(n int, adapters []*allsourceauth.Adapter, fn func(i int, a *allsourceauth.Adapter) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i, adapters[i%len(adapters)])
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// winners returns the indexes of nil errors; any other error but lost fails the test.
func winners(t *testing.T, errs []error, lost error) []int {
	t.Helper()
	var out []int
	for i, err := range errs {
		switch {
		case err == nil:
			out = append(out, i)
		case !errors.Is(err, lost):
			t.Errorf("racer %d: unexpected error: %v", i, err)
		}
	}
	return out
}

// ---------------------------------------------------------------------------------------
// Logs

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
