package allsourceauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
)

// Adapter is the Store on Allsource. It is safe for concurrent use and keeps no state
// between calls: every guarantee (unique values, lossless updates, single-use tokens)
// comes from Allsource's expected_version, so any number of Adapters on one Allsource —
// one per app server — behave as one.
type Adapter struct {
	c          *client
	now        func() time.Time
	pageSize   int
	log        *slog.Logger
	asOf       time.Time // with past: the time of a read-only view
	past       bool
	claimGrace time.Duration // how long an in-flight claim is waited on before it is fenced
}

var _ Store = (*Adapter)(nil)

// Option configures New. An invalid option makes New fail with ErrInvalidInput.
type Option func(*config) error

// WithTenant stores and reads everything in one Allsource tenant: tenant_id is sent on
// every write and every read. Tenant ids are 1–64 characters of [A-Za-z0-9_-].
func WithTenant(tenantID string) Option {
	return func(cfg *config) error {
		if !validTenant(tenantID) {
			return invalid("WithTenant: tenant id must be 1-64 of [A-Za-z0-9_-]")
		}
		cfg.tenant = tenantID
		return nil
	}
}

// WithTimeout bounds each HTTP attempt (default 10s; 0 means no per-attempt bound). The
// caller's context bounds the whole call, retries included. Negative is invalid.
func WithTimeout(d time.Duration) Option {
	return func(cfg *config) error {
		if d < 0 {
			return invalid("WithTimeout: negative timeout")
		}
		cfg.timeout = d
		return nil
	}
}

// WithRetries sets how many extra attempts a retryable failure (transport error, 408,
// 429, 5xx) gets, with capped exponential backoff and jitter; default 3, 0 disables.
// Negative is invalid.
func WithRetries(n int) Option {
	return func(cfg *config) error {
		if n < 0 {
			return invalid("WithRetries: negative retry count")
		}
		cfg.retries = n
		return nil
	}
}

// WithLogger receives debug lines about retries and best-effort claim clean-up; they
// never hold a key, token or secret. Default: discard. nil means discard.
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) error {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		cfg.logger = l
		return nil
	}
}

// WithClock sets the clock used for CreatedAt, UpdatedAt and expiry checks (default
// time.Now). For tests. nil is invalid.
func WithClock(now func() time.Time) Option {
	return func(cfg *config) error {
		if now == nil {
			return invalid("WithClock: nil clock")
		}
		cfg.now = now
		return nil
	}
}

// WithPageSize sets how many events one query page asks for when a call scans (lists,
// finds by user, expiry sweeps); default 500. Scans always read to the end. n must be
// positive.
func WithPageSize(n int) Option {
	return func(cfg *config) error {
		if n <= 0 {
			return invalid("WithPageSize: page size must be positive")
		}
		cfg.pageSize = n
		return nil
	}
}

// New returns an Adapter that appends to Allsource Core at coreURL and reads from the
// Query Service at queryURL (which may equal coreURL). Both must be absolute http(s) URLs
// with a host and apiKey must be non-empty; bad arguments or options return an error
// wrapping ErrInvalidInput. New does no network I/O: use Ping for a readiness check.
func New(coreURL, queryURL, apiKey string, opts ...Option) (*Adapter, error) {
	for _, u := range []struct{ name, v string }{{"core", coreURL}, {"query", queryURL}} {
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.User != nil {
			return nil, invalid("New: %s URL must be an absolute http(s) URL with a host", u.name)
		}
	}
	if apiKey == "" {
		return nil, invalid("New: empty API key")
	}
	cfg := &config{
		coreURL: coreURL, queryURL: queryURL, apiKey: apiKey,
		timeout: 10 * time.Second, retries: 3, pageSize: 500,
		logger: slog.New(slog.DiscardHandler), now: time.Now,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	return &Adapter{
		c:          newClient(cfg),
		now:        cfg.now,
		pageSize:   cfg.pageSize,
		log:        cfg.logger,
		claimGrace: 250 * time.Millisecond,
	}, nil
}

// Ping checks that Core and the Query Service answer and that the API key is accepted
// (GET /health on both, then an authenticated query). For readiness probes.
func (a *Adapter) Ping(ctx context.Context) error {
	if err := a.c.health(ctx, a.c.core); err != nil {
		return wrapOp("ping core", err)
	}
	if a.c.query != a.c.core {
		if err := a.c.health(ctx, a.c.query); err != nil {
			return wrapOp("ping query service", err)
		}
	}
	_, err := a.c.page(ctx, &query{EventType: "auth.ping", Limit: 1})
	return wrapOp("ping query", err)
}

func validTenant(t string) bool {
	if len(t) == 0 || len(t) > 64 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// clock returns the adapter's now in UTC without a monotonic reading, so that what a
// write returns equals what a later read decodes.
func (a *Adapter) clock() time.Time { return a.now().UTC().Round(0) }

// ---------------------------------------------------------------------------------------
// The entity engine: every kind reads, finds, creates, updates and deletes through here.

// kind describes one entity kind: where its events live and which unique values a state
// holds. The ops files declare one per kind.
type kind[T any] struct {
	name    string              // in errors: "user"
	entity  string              // entity id prefix: "auth-user:"
	event   string              // event type prefix: "auth.user."
	key     func(*T) string     // the entity key: the id, or a session's token
	created func(*T) time.Time  // creation time, for ordering lists
	claims  func(*T) []claimKey // the unique values a state holds (may be nil)
}

// claimKey is one unique value: a scope and its normalised value.
type claimKey struct{ scope, value string }

// uniques builds the claim keys of the non-empty values among pairs (scope, value, ...).
func uniques(pairs ...string) []claimKey {
	var out []claimKey
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			out = append(out, claimKey{pairs[i], pairs[i+1]})
		}
	}
	return out
}

// anyKind is what the engine needs of a kind without knowing its type: claim checks on
// an owner's payload, and History/Restore by Kind.
type anyKind interface {
	base() (name, entity, event string)
	holds(payload json.RawMessage, ck claimKey) bool
	restore(ctx context.Context, a *Adapter, key string) error
}

func (k *kind[T]) base() (string, string, string) { return k.name, k.entity, k.event }

func (k *kind[T]) holds(payload json.RawMessage, ck claimKey) bool {
	v, deleted, err := decodeState[T](payload)
	return err == nil && !deleted && k.claims != nil && containsKey(k.claims(v), ck)
}

// rec is one entity as read: its state (nil when absent), the entity's current version
// (what the next append must expect) and its newest event.
type rec[T any] struct {
	val    *T
	ver    uint64
	last   *wireEvent
	revive bool // val is a past state of a deleted entity (Restore): it holds no values now
}

var (
	errSkip   = errors.New("allsourceauth: nothing to change") // a change func's "leave it"
	errAbsent = fmt.Errorf("%w: empty key", ErrNotFound)       // an empty key: absent without a request
)

const (
	maxWriteAttempts = 24 // appends that may lose a version race before ErrConflict
	maxEntityID      = 128
)

// checkKey validates a key before any request. An empty key is errAbsent.
func checkKey(entityPrefix, key string) error {
	if key == "" {
		return errAbsent
	}
	if p := keyProblem(entityPrefix, key); p != "" {
		return invalid("id %s", p)
	}
	return nil
}

// keyProblem says what is wrong with a key under an entity id prefix, or "".
func keyProblem(entityPrefix, key string) string {
	if len(entityPrefix)+len(key) > maxEntityID {
		return fmt.Sprintf("too long: entity id would exceed %d bytes", maxEntityID)
	}
	for _, r := range key { // C0, DEL and C1 (U+0080–U+009F): what Allsource rejects
		if unicode.IsControl(r) {
			return "holds a control character"
		}
	}
	return ""
}

// flags are the engine's markers in a payload.
type flags struct {
	Deleted bool `json:"_deleted"`
}

var deletedMark = []byte(`"_deleted"`)

// isTombstone reports whether a payload marks its entity deleted. Only a JSON object is
// a payload.
func isTombstone(payload json.RawMessage) (bool, error) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 || p[0] != '{' {
		return false, errors.New("allsourceauth: event payload is not a JSON object")
	}
	if !bytes.Contains(p, deletedMark) {
		return false, nil
	}
	var f flags
	if err := json.Unmarshal(p, &f); err != nil {
		return false, fmt.Errorf("allsourceauth: decode payload: %w", err)
	}
	return f.Deleted, nil
}

// decodeState decodes a payload; deleted reports a tombstone (state then nil).
func decodeState[T any](payload json.RawMessage) (*T, bool, error) {
	deleted, err := isTombstone(payload)
	if err != nil || deleted {
		return nil, deleted, err
	}
	v := new(T)
	if err := json.Unmarshal(payload, v); err != nil {
		return nil, false, fmt.Errorf("allsourceauth: decode payload: %w", err)
	}
	inUTC(v)
	return v, false, nil
}

// encodeState returns the payload of a state, marked as a tombstone when del is set, and
// the state decoded back from it (so callers return exactly what a read will return).
func encodeState[T any](v *T, del bool) ([]byte, *T, error) {
	inUTC(v)
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("allsourceauth: encode payload: %w", err)
	}
	if del {
		return markPayload(b, `"_deleted":true`), nil, nil
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, nil, fmt.Errorf("allsourceauth: encode payload: %w", err)
	}
	return b, out, nil
}

var timeType = reflect.TypeFor[time.Time]()

// inUTC puts every time.Time field of the struct *v in UTC, so that times given in any
// zone (or written by another client with an offset) are stored and returned in UTC.
func inUTC[T any](v *T) {
	rv := reflect.ValueOf(v).Elem()
	if rv.Kind() != reflect.Struct {
		return
	}
	for i := range rv.NumField() {
		if f := rv.Field(i); f.Type() == timeType && f.CanSet() {
			t := f.Addr().Interface().(*time.Time)
			*t = t.UTC()
		}
	}
}

// markPayload adds a top-level member to a JSON object.
func markPayload(obj []byte, member string) []byte {
	obj = bytes.TrimSpace(obj) // leading space too: obj[1:] must start inside the object
	out := make([]byte, 0, len(obj)+len(member)+1)
	out = append(out, obj[:len(obj)-1]...)
	if len(bytes.TrimSpace(obj[1:len(obj)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, member...)
	return append(out, '}')
}

// opOf returns the op id in an event's metadata.
func opOf(ev *wireEvent) string {
	if ev == nil || len(ev.Metadata) == 0 || ev.Metadata[0] != '{' {
		return ""
	}
	var m struct {
		Op string `json:"op"`
	}
	if json.Unmarshal(ev.Metadata, &m) != nil {
		return ""
	}
	return m.Op
}

func newOp() string { return uuid.NewString() }

// load reads one entity (as of the view's time, if any).
func load[T any](ctx context.Context, a *Adapter, k *kind[T], key string) (rec[T], error) {
	if err := checkKey(k.entity, key); err != nil {
		return rec[T]{}, err
	}
	ev, ver, err := a.c.latest(ctx, k.entity+key, a.asOf, a.pageSize)
	if err != nil || ev == nil {
		return rec[T]{ver: ver}, err
	}
	v, _, err := decodeState[T](ev.Payload)
	if err != nil {
		return rec[T]{}, err
	}
	return rec[T]{val: v, ver: ver, last: ev}, nil
}

// get returns the live state of one entity, or ErrNotFound.
func get[T any](ctx context.Context, a *Adapter, k *kind[T], key string) (*T, error) {
	r, err := load(ctx, a, k, key)
	if err == nil && r.val == nil {
		return nil, ErrNotFound
	}
	return r.val, err
}

// find returns the live entities of a kind whose payloads match filter (fields that
// never change after create), reading every page and folding events by entity: the
// highest version wins and tombstones drop out. Order is by first appearance (oldest
// entity first).
func find[T any](ctx context.Context, a *Adapter, k *kind[T], filter map[string]string) ([]rec[T], error) {
	newest := make(map[string]*wireEvent)
	var order []string
	q := query{EventTypePrefix: k.event, PayloadFilter: filter, AsOf: a.asOf}
	err := a.c.scan(ctx, q, a.pageSize, func(evs []wireEvent) error {
		for i := range evs {
			ev := &evs[i]
			if !a.asOf.IsZero() && ev.Timestamp.After(a.asOf) {
				continue
			}
			cur, ok := newest[ev.EntityID]
			if !ok {
				order = append(order, ev.EntityID)
			}
			if !ok || ev.Version > cur.Version {
				newest[ev.EntityID] = ev
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]rec[T], 0, len(order))
	for _, id := range order {
		ev := newest[id]
		v, deleted, err := decodeState[T](ev.Payload)
		if err != nil {
			return nil, err
		}
		if !deleted {
			out = append(out, rec[T]{val: v, ver: ev.Version, last: ev})
		}
	}
	return out, nil
}

func (a *Adapter) writable() error {
	if a.past {
		return ErrReadOnly
	}
	return nil
}

// appendEvent appends one event carrying the op id at the expected version.
func (a *Adapter) appendEvent(ctx context.Context, entityID, eventType string, payload []byte, expected uint64, op string) (uint64, error) {
	meta := make([]byte, 0, 48)
	meta = append(meta, `{"op":"`...)
	meta = append(meta, op...)
	meta = append(meta, `"}`...)
	res, err := a.c.append(ctx, &newEvent{
		EntityID: entityID, EventType: eventType, Payload: payload,
		Metadata: meta, ExpectedVersion: expected,
	})
	return res.Version, err
}

func isVersionConflict(err error) bool {
	var vc *versionConflict
	return errors.As(err, &vc)
}

// definite reports whether a failed append certainly did not land (so claims taken for
// it may be given back). After a transport error or a 5xx it may have landed.
func definite(err error) bool {
	if isVersionConflict(err) || errors.Is(err, ErrConflict) || errors.Is(err, ErrInvalidInput) {
		return true
	}
	return refused(err)
}

// create appends the first event of a new entity, claiming its unique values first.
// ErrConflict when a value is held by a live entity or the entity id is taken.
func create[T any](ctx context.Context, a *Adapter, k *kind[T], v *T) (*T, error) {
	if err := a.writable(); err != nil {
		return nil, err
	}
	key := k.key(v)
	if err := checkKey(k.entity, key); err != nil {
		if errors.Is(err, errAbsent) {
			return nil, invalid("empty id")
		}
		return nil, err
	}
	payload, out, err := encodeState(v, false)
	if err != nil {
		return nil, err
	}
	id, op := k.entity+key, newOp()
	var taken []heldClaim
	if k.claims != nil {
		for _, ck := range k.claims(v) {
			h, err := a.acquire(ctx, ck, id, 0, op)
			if err != nil {
				a.giveBack(ctx, taken, id, op, err)
				return nil, err
			}
			taken = append(taken, h)
		}
	}
	_, err = a.appendEvent(ctx, id, k.event+"created", payload, 0, op)
	if isVersionConflict(err) {
		if r, _, lerr := a.c.latest(ctx, id, time.Time{}, a.pageSize); lerr == nil && opOf(r) == op {
			return out, nil // our first attempt landed; its answer was lost
		}
		err = fmt.Errorf("%w: %s id already exists", ErrConflict, k.name)
	}
	if err != nil {
		a.giveBack(ctx, taken, id, op, err)
		return nil, err
	}
	return out, nil
}

// reader reads an entity's current state for mutate; attempt counts from 0.
type reader[T any] func(ctx context.Context, attempt int) (rec[T], error)

// prefetched reads r on the first attempt (a state the caller already read, which saves
// a request) and loads the entity afresh on later ones.
func prefetched[T any](a *Adapter, k *kind[T], r rec[T]) reader[T] {
	return func(ctx context.Context, attempt int) (rec[T], error) {
		if attempt == 0 {
			return r, nil
		}
		return load(ctx, a, k, k.key(r.val))
	}
}

// mutate applies change to the current state and appends it as event (a suffix such as
// "updated"), re-reading and re-applying on version conflicts, a bounded number of times,
// then ErrConflict. read says how to read the state (nil: load). With del the new state
// is a tombstone and mutate returns the last live state. A change returning errSkip
// leaves the entity as it is. New unique values are claimed before the append; values
// given up are released after it. ErrNotFound when the entity is absent.
func mutate[T any](ctx context.Context, a *Adapter, k *kind[T], key, event string, del bool, read reader[T], change func(*T) error) (*T, error) {
	if err := a.writable(); err != nil {
		return nil, err
	}
	if read == nil {
		read = func(ctx context.Context, _ int) (rec[T], error) { return load(ctx, a, k, key) }
	}
	id, op := k.entity+key, newOp()
	var (
		taken   []heldClaim
		written *T         // what the previous attempt wrote
		freed   []claimKey // what it gave up
		lastErr error
	)
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		r, err := read(ctx, attempt)
		if err != nil {
			return nil, err
		}
		if attempt > 0 && opOf(r.last) == op { // an earlier attempt landed; its answer was lost
			a.releaseAll(ctx, freed, id, op)
			return written, nil
		}
		if r.val == nil {
			a.giveBack(ctx, taken, id, op, ErrNotFound)
			return nil, ErrNotFound
		}
		var before, after []claimKey
		if k.claims != nil && !r.revive {
			before = k.claims(r.val)
		}
		if err := change(r.val); err != nil {
			a.giveBack(ctx, taken, id, op, err)
			if errors.Is(err, errSkip) {
				return r.val, nil
			}
			return nil, err
		}
		if k.claims != nil && !del {
			after = k.claims(r.val)
		}
		payload, out, err := encodeState(r.val, del)
		if err != nil {
			return nil, err
		}
		if del {
			out = r.val
		}
		for _, ck := range minus(after, before) {
			h, err := a.acquire(ctx, ck, id, r.ver, op)
			if err != nil {
				a.giveBack(ctx, taken, id, op, err)
				return nil, err
			}
			taken = append(taken, h)
		}
		written, freed = out, nil
		if !del { // a deleted owner's claims are stale: deletes need no claim writes
			freed = minus(before, after)
		}
		_, err = a.appendEvent(ctx, id, k.event+event, payload, r.ver, op)
		if err == nil {
			a.releaseAll(ctx, freed, id, op)
			return out, nil
		}
		if !isVersionConflict(err) {
			a.giveBack(ctx, taken, id, op, err)
			return nil, err
		}
		lastErr = err
		if err := pause(ctx, attempt); err != nil {
			return nil, err
		}
	}
	a.giveBack(ctx, taken, id, op, ErrConflict)
	return nil, fmt.Errorf("%w: %s kept changing (%d attempts): %w", ErrConflict, k.name, maxWriteAttempts, lastErr)
}

// remove tombstones an entity (event "deleted"); an absent entity is not an error.
func remove[T any](ctx context.Context, a *Adapter, k *kind[T], key string) error {
	if err := a.writable(); err != nil {
		return err
	}
	if err := checkKey(k.entity, key); err != nil {
		if errors.Is(err, errAbsent) {
			return nil
		}
		return err
	}
	_, err := mutate(ctx, a, k, key, "deleted", true, nil, func(*T) error { return nil })
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// removeAll tombstones every entity in recs (found by find) for which still holds on its
// current state (nil: all), returning how many it deleted; ones deleted or changed
// concurrently so that still fails are not counted.
func removeAll[T any](ctx context.Context, a *Adapter, k *kind[T], recs []rec[T], still func(*T) bool) (int, error) {
	n := 0
	for i := range recs {
		_, err := mutate(ctx, a, k, k.key(recs[i].val), "deleted", true, prefetched(a, k, recs[i]), func(v *T) error {
			if still != nil && !still(v) {
				return ErrNotFound
			}
			return nil
		})
		switch {
		case err == nil:
			n++
		case errors.Is(err, ErrNotFound):
		default:
			return n, err
		}
	}
	return n, nil
}

// pause waits a short, growing, jittered moment between conflicting attempts, so that
// writers racing on one entity spread out instead of colliding again.
func pause(ctx context.Context, attempt int) error {
	return sleep(ctx, time.Duration(rand.Int64N(int64(time.Millisecond)<<min(attempt, 5)))+100*time.Microsecond)
}

func minus(a, b []claimKey) []claimKey {
	var out []claimKey
outer:
	for _, x := range a {
		for _, y := range b {
			if x == y {
				continue outer
			}
		}
		out = append(out, x)
	}
	return out
}

// ---------------------------------------------------------------------------------------
// Claims: one entity per unique value, auth-claim:{scope}:{digest}.

const (
	claimPrefix   = "auth-claim:"
	claimAcquired = "auth.claim.acquired"
	claimReleased = "auth.claim.released"
)

type claimPayload struct {
	Scope        string `json:"scope"`
	Owner        string `json:"owner"`
	OwnerVersion uint64 `json:"ownerVersion"`
}

// heldClaim is a claim this call acquired, at the claim version it wrote.
type heldClaim struct {
	key claimKey
	ver uint64
}

// claimID is the claim entity of a value; with a tenant the digest covers it too,
// because Allsource counts versions per entity id across tenants.
func (a *Adapter) claimID(ck claimKey) string {
	h := sha256.New()
	if a.c.tenant != "" {
		h.Write([]byte(a.c.tenant))
		h.Write([]byte{0})
	}
	h.Write([]byte(ck.value))
	return claimPrefix + ck.scope + ":" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// claimStatus is what a claim's owner says about it.
type claimStatus int

const (
	claimHeld     claimStatus = iota // the owner is live and holds the value
	claimStale                       // the owner moved on or was deleted
	claimInFlight                    // the owner's write is in flight or was abandoned
)

// ownerKinds maps an entity id prefix to its kind, for claim checks and Restore.
func ownerKind(entityID string) anyKind {
	for _, k := range allKinds {
		_, prefix, _ := k.base()
		if len(entityID) > len(prefix) && entityID[:len(prefix)] == prefix {
			return k
		}
	}
	return nil
}

// status reads a claim's owner and decides whether the claim binds.
func (a *Adapter) status(ctx context.Context, cp claimPayload, ck claimKey) (claimStatus, *wireEvent, uint64, error) {
	k := ownerKind(cp.Owner)
	if k == nil {
		return claimStale, nil, 0, nil // not an owner we know: it cannot hold anything
	}
	ev, ver, err := a.c.latest(ctx, cp.Owner, time.Time{}, a.pageSize)
	if err != nil {
		return 0, nil, 0, err
	}
	switch {
	case ev != nil && k.holds(ev.Payload, ck):
		return claimHeld, ev, ver, nil
	case ver == cp.OwnerVersion:
		return claimInFlight, ev, ver, nil
	default:
		return claimStale, ev, ver, nil
	}
}

// acquire takes the claim on ck for owner, whose write will expect ownerVer. A claim
// that is free, released or stale is taken at its version; one held by a live owner is
// ErrConflict; one whose owner's write is in flight is waited on briefly, then fenced.
func (a *Adapter) acquire(ctx context.Context, ck claimKey, owner string, ownerVer uint64, op string) (heldClaim, error) {
	id := a.claimID(ck)
	payload, err := json.Marshal(claimPayload{Scope: ck.scope, Owner: owner, OwnerVersion: ownerVer})
	if err != nil {
		return heldClaim{}, err
	}
	expected, read := uint64(0), false // first try assumes a value never claimed: one request
	for attempt := 0; attempt < maxWriteAttempts; attempt++ {
		if read {
			ev, ver, err := a.c.latest(ctx, id, time.Time{}, a.pageSize)
			if err != nil {
				return heldClaim{}, err
			}
			if ev != nil && opOf(ev) == op {
				return heldClaim{ck, ver}, nil // ours: an earlier attempt landed
			}
			expected = ver
			if ev != nil && ev.EventType == claimAcquired {
				take, err := a.decide(ctx, ev, ck, owner, ownerVer, op)
				if err != nil {
					return heldClaim{}, err
				}
				if !take {
					return heldClaim{ck, ver}, nil // already ours
				}
			}
		}
		read = true
		ver, err := a.appendEvent(ctx, id, claimAcquired, payload, expected, op)
		if err == nil {
			return heldClaim{ck, ver}, nil
		}
		if !isVersionConflict(err) {
			return heldClaim{}, err
		}
	}
	return heldClaim{}, fmt.Errorf("%w: %s claim kept changing", ErrConflict, ck.scope)
}

// decide looks at a claim held by some owner: take=false when it is already ours, an
// error (ErrConflict) when it binds, take=true when it may be taken (after fencing an
// abandoned owner).
func (a *Adapter) decide(ctx context.Context, ev *wireEvent, ck claimKey, owner string, ownerVer uint64, op string) (bool, error) {
	var cp claimPayload
	if err := json.Unmarshal(ev.Payload, &cp); err != nil {
		return false, fmt.Errorf("allsourceauth: decode claim: %w", err)
	}
	if cp.Owner == owner && cp.OwnerVersion == ownerVer {
		return false, nil
	}
	deadline := time.Now().Add(a.claimGrace)
	for wait := 5 * time.Millisecond; ; wait *= 2 {
		st, oev, over, err := a.status(ctx, cp, ck)
		if err != nil {
			return false, err
		}
		switch {
		case st == claimHeld && cp.Owner == owner:
			return false, nil
		case st == claimHeld:
			return false, fmt.Errorf("%w: %s is taken", ErrConflict, ck.scope)
		case st == claimStale:
			return true, nil
		case time.Now().After(deadline):
			// Abandoned: fence the owner so its write can never land, then take over.
			err := a.fence(ctx, cp.Owner, oev, over, op)
			if err == nil {
				return true, nil
			}
			if !isVersionConflict(err) {
				return false, err
			}
			// The owner moved: look again.
		default:
			if err := sleep(ctx, wait); err != nil {
				return false, err
			}
		}
	}
}

// fence appends auth.{kind}.fenced to an owner at its current version, so that a write
// it has in flight fails with a version conflict. The state is kept unchanged.
func (a *Adapter) fence(ctx context.Context, owner string, last *wireEvent, ver uint64, op string) error {
	k := ownerKind(owner)
	_, entity, event := k.base()
	var payload []byte
	if last != nil && len(bytes.TrimSpace(last.Payload)) > 1 && bytes.TrimSpace(last.Payload)[0] == '{' {
		payload = markPayload(last.Payload, `"_fenced":true`)
	} else {
		idJSON, _ := json.Marshal(owner[len(entity):])
		payload = []byte(`{"_deleted":true,"id":` + string(idJSON) + `,"_fenced":true}`)
	}
	a.log.LogAttrs(ctx, slog.LevelDebug, "allsourceauth: fencing an abandoned claim owner", slog.String("kind", event))
	_, err := a.appendEvent(ctx, owner, event+"fenced", payload, ver, op)
	return err
}

// releaseAll releases each value (best effort).
func (a *Adapter) releaseAll(ctx context.Context, keys []claimKey, owner, op string) {
	for _, ck := range keys {
		a.release(ctx, ck, owner, op)
	}
}

// release gives up a value this owner no longer holds (best effort: a claim left behind
// is stale and is taken over by the next owner).
func (a *Adapter) release(ctx context.Context, ck claimKey, owner, op string) {
	id := a.claimID(ck)
	ev, ver, err := a.c.latest(ctx, id, time.Time{}, a.pageSize)
	if err != nil || ev == nil || ev.EventType != claimAcquired {
		return
	}
	var cp claimPayload
	if json.Unmarshal(ev.Payload, &cp) != nil || cp.Owner != owner {
		return
	}
	a.releaseAt(ctx, heldClaim{ck, ver}, owner, op)
}

func (a *Adapter) releaseAt(ctx context.Context, h heldClaim, owner, op string) {
	payload, _ := json.Marshal(claimPayload{Scope: h.key.scope, Owner: owner})
	if _, err := a.appendEvent(ctx, a.claimID(h.key), claimReleased, payload, h.ver, op); err != nil {
		a.log.LogAttrs(ctx, slog.LevelDebug, "allsourceauth: claim release failed; it will be taken over as stale",
			slog.String("scope", h.key.scope), slog.String("error", err.Error()))
	}
}

// giveBack releases the claims a write took when the write certainly did not land. When
// it may have landed (transport error, 5xx), the claims stay: they are either held or,
// if the write did not land, fenced and taken over later.
func (a *Adapter) giveBack(ctx context.Context, taken []heldClaim, owner, op string, cause error) {
	if len(taken) == 0 || !(definite(cause) || errors.Is(cause, ErrNotFound) || errors.Is(cause, errSkip)) || ctx.Err() != nil {
		return
	}
	for _, h := range taken {
		a.releaseAt(ctx, h, owner, op)
	}
}

// byClaim reads the live entity that holds a unique value: the claim, then its owner.
// ErrNotFound when the claim is free or its owner no longer holds the value.
func byClaim[T any](ctx context.Context, a *Adapter, k *kind[T], ck claimKey) (*T, error) {
	if ck.value == "" {
		return nil, ErrNotFound
	}
	ev, _, err := a.c.latest(ctx, a.claimID(ck), a.asOf, a.pageSize)
	if err != nil {
		return nil, err
	}
	if ev == nil || ev.EventType != claimAcquired {
		return nil, ErrNotFound
	}
	var cp claimPayload
	if err := json.Unmarshal(ev.Payload, &cp); err != nil {
		return nil, fmt.Errorf("allsourceauth: decode claim: %w", err)
	}
	if len(cp.Owner) <= len(k.entity) || cp.Owner[:len(k.entity)] != k.entity {
		return nil, ErrNotFound
	}
	r, err := load(ctx, a, k, cp.Owner[len(k.entity):])
	if err != nil {
		return nil, err
	}
	if r.val == nil || !containsKey(k.claims(r.val), ck) {
		return nil, ErrNotFound
	}
	return r.val, nil
}

func containsKey(keys []claimKey, ck claimKey) bool {
	for _, k := range keys {
		if k == ck {
			return true
		}
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ---------------------------------------------------------------------------------------
// Small helpers for the ops files.

// set copies *src into *dst when src is non-nil (the Update* rule).
func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// required returns ErrInvalidInput naming the first empty field among (name, value) pairs.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return invalid("%s is required", pairs[i])
		}
	}
	return nil
}

// checkRef validates ids used to find entities (a user id, an organization id), given as
// (name, value) pairs; empty values are fine (they match nothing).
func checkRef(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if p := keyProblem("", pairs[i+1]); p != "" {
			return invalid("%s %s", pairs[i], p)
		}
	}
	return nil
}

// findOne returns the newest live entity matching filter, given as (field, value) pairs,
// for which keep holds (nil: any), or ErrNotFound. An empty value matches nothing and
// sends no request.
func findOne[T any](ctx context.Context, a *Adapter, k *kind[T], keep func(*T) bool, filter ...string) (*rec[T], error) {
	f := make(map[string]string, len(filter)/2)
	for i := 0; i+1 < len(filter); i += 2 {
		if filter[i+1] == "" {
			return nil, ErrNotFound
		}
		f[filter[i]] = filter[i+1]
	}
	recs, err := pick(ctx, a, k, f, keep, true)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNotFound
	}
	return &recs[0], nil
}

// findVal is findOne returning the state.
func findVal[T any](ctx context.Context, a *Adapter, k *kind[T], keep func(*T) bool, filter ...string) (*T, error) {
	r, err := findOne(ctx, a, k, keep, filter...)
	if err != nil {
		return nil, err
	}
	return r.val, nil
}

// pick returns the live entities matching filter for which keep holds (nil: all),
// ordered by creation time — newest first when desc — with ties by key.
func pick[T any](ctx context.Context, a *Adapter, k *kind[T], filter map[string]string, keep func(*T) bool, desc bool) ([]rec[T], error) {
	recs, err := find(ctx, a, k, filter)
	if err != nil {
		return nil, err
	}
	if keep != nil {
		recs = slices.DeleteFunc(recs, func(r rec[T]) bool { return !keep(r.val) })
	}
	slices.SortStableFunc(recs, func(x, y rec[T]) int {
		c := k.created(x.val).Compare(k.created(y.val))
		if c == 0 {
			c = strings.Compare(k.key(x.val), k.key(y.val))
		}
		if desc {
			return -c
		}
		return c
	})
	return recs, nil
}

// list is pick returning the states.
func list[T any](ctx context.Context, a *Adapter, k *kind[T], filter map[string]string, keep func(*T) bool, desc bool) ([]T, error) {
	recs, err := pick(ctx, a, k, filter, keep, desc)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(recs))
	for i := range recs {
		out[i] = *recs[i].val
	}
	return out, nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// userFilter selects a user's entities; nil for an empty id.
func userFilter(userID string) map[string]string {
	if userID == "" {
		return nil
	}
	return map[string]string{"userId": userID}
}

// listBy lists the live entities of one kind whose id-valued field (userId,
// organizationId) equals id and for which keep holds, by creation time (newest first when
// desc). An empty id has none (no request); a malformed one is ErrInvalidInput.
func listBy[T any](ctx context.Context, a *Adapter, k *kind[T], field, id string, keep func(*T) bool, desc bool) ([]T, error) {
	if id == "" {
		return []T{}, nil
	}
	if err := checkRef(field, id); err != nil {
		return nil, err
	}
	return list(ctx, a, k, map[string]string{field: id}, keep, desc)
}

// byUser lists a user's live entities of one kind, newest first.
func byUser[T any](ctx context.Context, a *Adapter, k *kind[T], userID string) ([]T, error) {
	return listBy(ctx, a, k, "userId", userID, nil, true)
}

// removeWhere deletes the live entities matching filter for which still holds (nil: all)
// and returns how many it deleted. A nil filter with a nil still deletes nothing.
func removeWhere[T any](ctx context.Context, a *Adapter, k *kind[T], filter map[string]string, still func(*T) bool) (int, error) {
	if filter == nil && still == nil {
		return 0, nil
	}
	if err := a.writable(); err != nil {
		return 0, err
	}
	recs, err := pick(ctx, a, k, filter, still, false)
	if err != nil {
		return 0, err
	}
	return removeAll(ctx, a, k, recs, still)
}
