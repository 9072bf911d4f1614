// Package allsourcetest provides an in-memory Allsource Core, and a Query
// Service view over the same store, on net/http/httptest, for tests.
//
// The server follows the Allsource HTTP protocol: API-key authentication and
// its 401 answers, tenants, event-type and entity-id validation,
// expected_version checks with their 409 body, and every query parameter of
// GET /api/v1/events/query. Where the real services are lenient in ways a
// client must not rely on, the fake is stricter. Faults ([Server.Inject])
// reproduce slow servers, error answers, dropped connections and lost
// answers to appends that did land.
//
// A minimal use:
//
//	srv := allsourcetest.NewServer()
//	defer srv.Close()
//	// Core at srv.URL (Authorization: Bearer srv.APIKey),
//	// Query Service at srv.QueryURL (X-API-Key: srv.APIKey).
package allsourcetest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxBody is the request body limit of Allsource Core (2 MiB).
const maxBody = 2 << 20

// DefaultTenant is the tenant of [Server.APIKey] and of writes that name no tenant.
const DefaultTenant = "default"

// Server is an in-memory Allsource Core and Query Service. Both listeners
// share one store. It is safe for concurrent use.
type Server struct {
	// URL is the base URL of the Allsource Core listener. It takes the key as
	// "Authorization: Bearer <key>" (or a bare "Authorization: <key>"),
	// falling back to "X-API-Key: <key>".
	URL string
	// QueryURL is the base URL of the Query Service listener over the same
	// store. It takes API keys only as "X-API-Key: <key>" ("Authorization:
	// Bearer" is a JWT there), reads the tenant_id parameter's tenant, else
	// the key's, and serves no writes.
	QueryURL string
	// APIKey is a valid key for tenant "default": "ask_" followed by 43
	// random base64url characters.
	APIKey string

	core, query *httptest.Server
	store       *store

	keysMu sync.RWMutex
	keys   map[string]string // key → tenant

	requests atomic.Int64

	faultMu sync.Mutex
	faults  []*pendingFault

	closed    chan struct{}
	closeOnce sync.Once
}

// Option configures a [Server] in [NewServer].
type Option func(*Server)

// WithAPIKey registers key as a valid key bound to tenant. Keys starting
// with "ask_" are API keys; any other key is treated as a JWT and is only
// accepted as "Authorization: Bearer <key>".
func WithAPIKey(key, tenant string) Option {
	return func(s *Server) { s.AddAPIKey(key, tenant) }
}

// WithClock sets the source of event timestamps. Timestamps are kept
// strictly increasing in append order: a time not after the previous
// event's is bumped to the previous one plus 1ns. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.store.now = now
		}
	}
}

// NewServer starts a server with two listeners (Core and Query Service)
// over one empty store. Call [Server.Close] when done.
func NewServer(opts ...Option) *Server {
	s := &Server{
		store:  newStore(),
		keys:   make(map[string]string),
		closed: make(chan struct{}),
	}
	s.APIKey = newAPIKey()
	s.keys[s.APIKey] = DefaultTenant
	for _, o := range opts {
		o(s)
	}
	s.core = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveWithFaults(ListenerCore, w, r)
	}))
	s.query = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveWithFaults(ListenerQuery, w, r)
	}))
	s.URL = s.core.URL
	s.QueryURL = s.query.URL
	return s
}

func newAPIKey() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "ask_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// AddAPIKey registers key as a valid key bound to tenant, like [WithAPIKey],
// on a running server.
func (s *Server) AddAPIKey(key, tenant string) {
	s.keysMu.Lock()
	s.keys[key] = tenant
	s.keysMu.Unlock()
}

// Close shuts both listeners down. Pending fault delays end at once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.core.Close()
		s.query.Close()
	})
}

// Requests returns how many HTTP requests both listeners have received so
// far, faulted ones included. [Server.Append] is not counted.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Events returns a copy of every stored event, of all tenants, in append order.
func (s *Server) Events() []Event { return s.store.events() }

// Append stores an event directly, bypassing HTTP (it is not counted by
// [Server.Requests]) and with no expected_version check. An empty tenant
// means "default". payload and metadata are encoded with encoding/json
// (a json.RawMessage is stored as is); payload must not be nil, a nil
// metadata is stored as null. It returns the entity's new version.
func (s *Server) Append(tenant, entityID, eventType string, payload, metadata any) (version uint64, err error) {
	if tenant == "" {
		tenant = DefaultTenant
	}
	if payload == nil {
		return 0, errors.New("allsourcetest: Append: nil payload")
	}
	p, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("allsourcetest: Append: payload: %w", err)
	}
	m := []byte("null")
	if metadata != nil {
		if m, err = json.Marshal(metadata); err != nil {
			return 0, fmt.Errorf("allsourcetest: Append: metadata: %w", err)
		}
	}
	rec, err := s.store.append(tenant, entityID, eventType, p, m, nil)
	if err != nil {
		return 0, fmt.Errorf("allsourcetest: Append: %w", err)
	}
	return rec.ev.Version, nil
}

// serve routes one request of listener.
func (s *Server) serve(listener string, w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/health":
		if !allowMethod(w, r, http.MethodGet) {
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Status  string `json:"status"`
			Service string `json:"service"`
			Version string `json:"version"`
		}{"healthy", "allsource-core", "0.0.0-test"})
	case "/api/v1/auth/me":
		if !allowMethod(w, r, http.MethodGet) {
			return
		}
		if key, tenant, ok := s.authenticate(listener, w, r); ok {
			s.handleMe(w, key, tenant)
		}
	case "/api/v1/events":
		if listener != ListenerCore {
			notFound(w)
			return
		}
		if !allowMethod(w, r, http.MethodPost) {
			return
		}
		if _, _, ok := s.authenticate(listener, w, r); ok {
			s.handleAppend(w, r)
		}
	case "/api/v1/events/query":
		if !allowMethod(w, r, http.MethodGet) {
			return
		}
		if _, tenant, ok := s.authenticate(listener, w, r); ok {
			s.handleQuery(listener, w, r, tenant)
		}
	default:
		notFound(w)
	}
}

func allowMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: "Method not allowed"})
	return false
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, errorBody{Error: "Not found"})
}

// errorBody is Core's {"error":"…"}.
type errorBody struct {
	Error string `json:"error"`
}

// gatewayError is the Query Service's {"error":{"code":…,"message":…}}.
type gatewayError struct {
	Error gatewayErrorDetail `json:"error"`
}

type gatewayErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

func (s *Server) lookupKey(key string) (string, bool) {
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	t, ok := s.keys[key]
	return t, ok
}

// bearerToken returns the token of "Bearer <token>".
func bearerToken(h string) (string, bool) {
	const p = "Bearer "
	if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
		return strings.TrimSpace(h[len(p):]), true
	}
	return "", false
}

// authenticate checks the request's key the way listener does and answers
// 401 itself on failure.
func (s *Server) authenticate(listener string, w http.ResponseWriter, r *http.Request) (key, tenant string, ok bool) {
	if listener == ListenerCore {
		h := r.Header.Get("Authorization")
		if h == "" {
			h = r.Header.Get("X-API-Key")
		}
		if h == "" {
			writeText(w, http.StatusUnauthorized, "Missing authorization header")
			return "", "", false
		}
		key = h
		if tok, isBearer := bearerToken(h); isBearer {
			key = tok
		}
		if tenant, ok = s.lookupKey(key); !ok {
			writeText(w, http.StatusUnauthorized, "Invalid API key")
			return "", "", false
		}
		return key, tenant, true
	}

	unauthorized := func(msg string) (string, string, bool) {
		writeJSON(w, http.StatusUnauthorized, gatewayError{gatewayErrorDetail{Code: "unauthorized", Message: msg}})
		return "", "", false
	}
	if h := r.Header.Get("Authorization"); h != "" {
		tok, isBearer := bearerToken(h)
		if !isBearer {
			return unauthorized("Invalid authorization header: expected Bearer token")
		}
		if strings.HasPrefix(tok, "ask_") {
			return unauthorized("Invalid token: API keys must be sent in the X-API-Key header")
		}
		if tenant, ok = s.lookupKey(tok); !ok {
			return unauthorized("Invalid token")
		}
		return tok, tenant, true
	}
	key = r.Header.Get("X-API-Key")
	if key == "" {
		return unauthorized("Missing authentication: send X-API-Key or Authorization: Bearer")
	}
	if !strings.HasPrefix(key, "ask_") {
		return unauthorized("Invalid API key")
	}
	if tenant, ok = s.lookupKey(key); !ok {
		return unauthorized("Invalid API key")
	}
	return key, tenant, true
}

// handleMe answers GET /api/v1/auth/me.
func (s *Server) handleMe(w http.ResponseWriter, key, tenant string) {
	prefix := key
	if len(prefix) > 8 {
		prefix = prefix[:8]
	}
	authType := "api_key"
	if !strings.HasPrefix(key, "ask_") {
		authType = "jwt"
	}
	writeJSON(w, http.StatusOK, struct {
		TenantID  string `json:"tenant_id"`
		KeyPrefix string `json:"key_prefix"`
		AuthType  string `json:"auth_type"`
	}{tenant, prefix, authType})
}

// appendResponse is the 200 answer to an append.
type appendResponse struct {
	EventID   string `json:"event_id"`
	Timestamp string `json:"timestamp"`
	Version   uint64 `json:"version"`
}

// conflictBody is the 409 answer to a failed expected_version check.
type conflictBody struct {
	Error           string `json:"error"`
	ExpectedVersion uint64 `json:"expected_version"`
	CurrentVersion  uint64 `json:"current_version"`
}

// handleAppend answers POST /api/v1/events.
func (s *Server) handleAppend(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeText(w, http.StatusUnsupportedMediaType, "Expected request with `Content-Type: application/json`")
		return
	}
	if r.ContentLength > maxBody {
		writeText(w, http.StatusRequestEntityTooLarge, "Failed to buffer the request body: length limit exceeded")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeText(w, http.StatusBadRequest, "Failed to buffer the request body: "+err.Error())
		return
	}
	if len(body) > maxBody {
		writeText(w, http.StatusRequestEntityTooLarge, "Failed to buffer the request body: length limit exceeded")
		return
	}
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "Invalid input: malformed JSON: " + errString(err)})
		return
	}
	unprocessable := func(msg string) {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Error: "Failed to deserialize the JSON body into the target type: " + msg})
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		unprocessable("expected a JSON object")
		return
	}
	present := func(name string) bool {
		raw, ok := fields[name]
		return ok && !bytes.Equal(raw, []byte("null"))
	}
	str := func(name string, required bool) (string, bool) {
		if !present(name) {
			if required {
				unprocessable("missing field `" + name + "`")
				return "", false
			}
			return "", true
		}
		var v string
		if err := json.Unmarshal(fields[name], &v); err != nil {
			unprocessable(name + ": invalid type, expected a string")
			return "", false
		}
		return v, true
	}
	entityID, ok := str("entity_id", true)
	if !ok {
		return
	}
	eventType, ok := str("event_type", true)
	if !ok {
		return
	}
	tenant, ok := str("tenant_id", false)
	if !ok {
		return
	}
	if !present("tenant_id") {
		tenant = DefaultTenant
	}
	if !present("payload") {
		unprocessable("missing field `payload`")
		return
	}
	var expected *uint64
	if present("expected_version") {
		var v uint64
		if err := json.Unmarshal(fields["expected_version"], &v); err != nil {
			unprocessable("expected_version: invalid type, expected an unsigned integer")
			return
		}
		expected = &v
	}
	payload := compact(fields["payload"])
	metadata := json.RawMessage("null")
	if raw, ok := fields["metadata"]; ok {
		metadata = compact(raw)
	}

	rec, err := s.store.append(tenant, entityID, eventType, payload, metadata, expected)
	if err != nil {
		var ce *conflictError
		if errors.As(err, &ce) {
			writeJSON(w, http.StatusConflict, conflictBody{
				Error:           "version_conflict",
				ExpectedVersion: ce.expected,
				CurrentVersion:  ce.current,
			})
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, appendResponse{
		EventID:   rec.ev.ID,
		Timestamp: rec.ts,
		Version:   rec.ev.Version,
	})
}

func errString(err error) string {
	if err == nil {
		return "invalid JSON"
	}
	return err.Error()
}

// compact returns raw (valid JSON) without insignificant whitespace.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return b.Bytes()
}

// wireEvent is an event in a query answer.
type wireEvent struct {
	ID        string          `json:"id"`
	EventType string          `json:"event_type"`
	EntityID  string          `json:"entity_id"`
	TenantID  string          `json:"tenant_id"`
	Payload   json.RawMessage `json:"payload"`
	Timestamp string          `json:"timestamp"`
	Metadata  json.RawMessage `json:"metadata"`
	Version   uint64          `json:"version"`
}

// queryResponse is the 200 answer to a query.
type queryResponse struct {
	Events        []wireEvent `json:"events"`
	Count         int         `json:"count"`
	TotalCount    int         `json:"total_count"`
	HasMore       bool        `json:"has_more"`
	EntityVersion *uint64     `json:"entity_version,omitempty"`
}

// handleQuery answers GET /api/v1/events/query.
func (s *Server) handleQuery(listener string, w http.ResponseWriter, r *http.Request, keyTenant string) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeText(w, http.StatusBadRequest, "Failed to deserialize query string: "+err.Error())
		return
	}
	param := func(name string) (string, bool) {
		v, ok := vals[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	q := &query{tenant: keyTenant}
	if t, ok := param("tenant_id"); ok {
		if err := checkTenant(t); err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
			return
		}
		q.tenant = t
	}
	if v, ok := param("entity_id"); ok {
		q.entityID = &v
	}
	if v, ok := param("event_type"); ok {
		q.eventType = &v
	}
	if v, ok := param("event_type_prefix"); ok {
		q.eventTypePrefix = &v
	}
	for _, tp := range []struct {
		name string
		dst  **time.Time
	}{{"since", &q.since}, {"until", &q.until}, {"as_of", &q.asOf}} {
		v, ok := param(tp.name)
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeText(w, http.StatusBadRequest, "Failed to deserialize query string: "+tp.name+": input is not a valid RFC 3339 date-time")
			return
		}
		*tp.dst = &t
	}
	if v, ok := param("offset"); ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeText(w, http.StatusBadRequest, "Failed to deserialize query string: offset: invalid digit found in string")
			return
		}
		q.offset = n
	}
	if v, ok := param("limit"); ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeText(w, http.StatusBadRequest, "Failed to deserialize query string: limit: invalid digit found in string")
			return
		}
		q.limit = &n
	}
	if v, ok := param("order"); ok {
		switch v {
		case "asc":
		case "desc":
			q.desc = true
		default:
			writeJSON(w, http.StatusBadRequest, errorBody{Error: fmt.Sprintf("Invalid input: order must be \"asc\" or \"desc\", got %q", v)})
			return
		}
	}
	if v, ok := param("payload_filter"); ok {
		f, err := parsePayloadFilter(v)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "Invalid input: payload_filter: " + err.Error()})
			return
		}
		q.payloadFilter = f
	}

	res := s.store.run(q)
	resp := queryResponse{
		Events:     make([]wireEvent, len(res.page)),
		Count:      len(res.page),
		TotalCount: res.total,
		HasMore:    q.offset+uint64(len(res.page)) < uint64(res.total),
	}
	for i, rec := range res.page {
		e := &rec.ev
		resp.Events[i] = wireEvent{
			ID:        e.ID,
			EventType: e.EventType,
			EntityID:  e.EntityID,
			TenantID:  e.TenantID,
			Payload:   e.Payload,
			Timestamp: rec.ts,
			Metadata:  e.Metadata,
			Version:   e.Version,
		}
	}
	if q.entityID != nil {
		v := res.entityVersion
		resp.EntityVersion = &v
	}
	writeJSON(w, http.StatusOK, resp)
}

// parsePayloadFilter decodes a payload_filter: a JSON object whose values
// are compared with decoded payload members (numbers as json.Number).
func parsePayloadFilter(s string) (map[string]any, error) {
	if !json.Valid([]byte(s)) {
		return nil, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("must be a JSON object")
	}
	return m, nil
}
