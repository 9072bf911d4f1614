package allsourceauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// client moves events to and from Allsource over HTTP. It knows nothing about auth.
const (
	appendPath = "/api/v1/events"
	queryPath  = "/api/v1/events/query"
	healthPath = "/health"

	maxPageBytes  = 64 << 20 // a query page larger than this is refused
	maxErrorBytes = 1 << 20  // an error body is read up to this much
	maxDrainBytes = 256 << 10

	backoffBase   = 50 * time.Millisecond
	backoffCap    = 2 * time.Second
	maxRetryAfter = 30 * time.Second
)

type client struct {
	core, query string // base URLs without a trailing slash
	apiKey      string
	coreHeader  string   // the header carrying the key to Core
	coreValues  []string // its value, shared by every request's header
	queryHeader string   // likewise to the Query Service
	queryValues []string
	tenant      string
	http        *http.Client
	timeout     time.Duration
	retries     int
	log         *slog.Logger
}

// config is what New and the options set; most of it configures the client.
type config struct {
	coreURL, queryURL, apiKey, tenant string
	httpClient                        *http.Client
	timeout                           time.Duration
	retries                           int
	logger                            *slog.Logger
	now                               func() time.Time
	pageSize                          int
}

// WithHTTPClient sends every request through c instead of the default client (its own
// Transport with keep-alive and 64 idle connections per host). A nil c is invalid.
func WithHTTPClient(c *http.Client) Option {
	return func(cfg *config) error {
		if c == nil {
			return invalid("WithHTTPClient: nil client")
		}
		cfg.httpClient = c
		return nil
	}
}

func newClient(cfg *config) *client {
	c := &client{
		core:    strings.TrimRight(cfg.coreURL, "/"),
		query:   strings.TrimRight(cfg.queryURL, "/"),
		apiKey:  cfg.apiKey,
		tenant:  cfg.tenant,
		http:    cfg.httpClient,
		timeout: cfg.timeout,
		retries: cfg.retries,
		log:     cfg.logger,
	}
	c.coreHeader, c.coreValues = "Authorization", []string{"Bearer " + cfg.apiKey}
	c.queryHeader, c.queryValues = "X-API-Key", []string{cfg.apiKey}
	if !strings.HasPrefix(cfg.apiKey, "ask_") { // a JWT: Bearer to both
		c.queryHeader, c.queryValues = c.coreHeader, c.coreValues
	}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	return c
}

// defaultHTTPClient keeps connections alive and pools enough of them per host for a busy
// auth server. Timeouts are per attempt (WithTimeout), so the client itself has none.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// newEvent is one append.
type newEvent struct {
	TenantID        string          `json:"tenant_id,omitempty"`
	EntityID        string          `json:"entity_id"`
	EventType       string          `json:"event_type"`
	Payload         json.RawMessage `json:"payload"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	ExpectedVersion uint64          `json:"expected_version"`
}

type appendResult struct {
	EventID   string    `json:"event_id"`
	Timestamp time.Time `json:"timestamp"`
	Version   uint64    `json:"version"`
}

// wireEvent is an event as a query returns it.
type wireEvent struct {
	ID        string          `json:"id"`
	EventType string          `json:"event_type"`
	EntityID  string          `json:"entity_id"`
	TenantID  string          `json:"tenant_id"`
	Payload   json.RawMessage `json:"payload"`
	Timestamp time.Time       `json:"timestamp"`
	Metadata  json.RawMessage `json:"metadata"`
	Version   uint64          `json:"version"`
}

type queryPage struct {
	Events        []wireEvent `json:"events"`
	Count         int         `json:"count"`
	TotalCount    int         `json:"total_count"`
	HasMore       bool        `json:"has_more"`
	EntityVersion *uint64     `json:"entity_version"`
}

// query selects events; zero fields are not sent.
type query struct {
	EntityID        string
	EventType       string
	EventTypePrefix string
	PayloadFilter   map[string]string
	AsOf            time.Time
	Desc            bool
	Offset, Limit   int
}

func (q *query) encode(tenant string) (string, error) {
	// Built by hand rather than with url.Values (this is every read's hot path: one
	// allocation instead of ten), with the bytes url.Values.Encode would give: keys
	// sorted, values query-escaped.
	var filter []byte
	if len(q.PayloadFilter) > 0 {
		b, err := json.Marshal(q.PayloadFilter)
		if err != nil {
			return "", err
		}
		filter = b
	}
	var asOf string
	if !q.AsOf.IsZero() {
		asOf = q.AsOf.UTC().Format(time.RFC3339Nano)
	}
	var b strings.Builder
	b.Grow(96 + 3*(len(q.EntityID)+len(q.EventType)+len(q.EventTypePrefix)+len(filter)+len(asOf)+len(tenant)))
	key := func(k string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
	}
	if asOf != "" {
		key("as_of")
		writeQueryEscaped(&b, asOf)
	}
	if q.EntityID != "" {
		key("entity_id")
		writeQueryEscaped(&b, q.EntityID)
	}
	if q.EventType != "" {
		key("event_type")
		writeQueryEscaped(&b, q.EventType)
	}
	if q.EventTypePrefix != "" {
		key("event_type_prefix")
		writeQueryEscaped(&b, q.EventTypePrefix)
	}
	var num [20]byte
	if q.Limit > 0 {
		key("limit")
		b.Write(strconv.AppendInt(num[:0], int64(q.Limit), 10))
	}
	if q.Offset > 0 {
		key("offset")
		b.Write(strconv.AppendInt(num[:0], int64(q.Offset), 10))
	}
	if q.Desc {
		key("order")
		b.WriteString("desc")
	}
	if filter != nil {
		key("payload_filter")
		writeQueryEscaped(&b, string(filter))
	}
	if tenant != "" {
		key("tenant_id")
		writeQueryEscaped(&b, tenant)
	}
	return b.String(), nil
}

// writeQueryEscaped writes s escaped as url.QueryEscape does: unreserved bytes as they
// are, space as '+', every other byte as %XX.
func writeQueryEscaped(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}

// versionConflict is a 409 version_conflict answer to an append: the entity's version was
// not the expected one. It matches ErrConflict and, with errors.As, its *APIError.
type versionConflict struct {
	expected, current uint64
	api               *APIError
}

func (e *versionConflict) Error() string {
	return fmt.Sprintf("allsourceauth: version conflict: expected %d, current %d", e.expected, e.current)
}

func (e *versionConflict) Unwrap() []error { return []error{ErrConflict, e.api} }

// append appends one event; a 409 version_conflict comes back as *versionConflict.
func (c *client) append(ctx context.Context, ev *newEvent) (appendResult, error) {
	ev.TenantID = c.tenant
	body, err := json.Marshal(ev)
	if err != nil {
		return appendResult{}, fmt.Errorf("allsourceauth: encode event: %w", err)
	}
	var res appendResult
	err = c.do(ctx, http.MethodPost, c.core, appendPath, "", body, &res, ev.EntityID)
	return res, err
}

// page runs one query.
func (c *client) page(ctx context.Context, q *query) (*queryPage, error) {
	raw, err := q.encode(c.tenant)
	if err != nil {
		return nil, fmt.Errorf("allsourceauth: encode query: %w", err)
	}
	var p queryPage
	if err := c.do(ctx, http.MethodGet, c.query, queryPath, raw, nil, &p, q.EntityID); err != nil {
		return nil, err
	}
	if p.Count != len(p.Events) && p.Count != 0 {
		return nil, fmt.Errorf("allsourceauth: query: answer says %d events but holds %d", p.Count, len(p.Events))
	}
	return &p, nil
}

// scan pages through every event q selects, oldest first unless q.Desc, calling fn per
// page. It follows has_more to the end: there is no cap.
func (c *client) scan(ctx context.Context, q query, pageSize int, fn func([]wireEvent) error) error {
	q.Limit = pageSize
	for {
		p, err := c.page(ctx, &q)
		if err != nil {
			return err
		}
		n := len(p.Events)
		if err := fn(q.keep(p.Events)); err != nil {
			return err
		}
		if !p.HasMore {
			return nil
		}
		if n == 0 {
			return errors.New("allsourceauth: query: answer has more events but sent none")
		}
		q.Offset += n
	}
}

// keep drops, in place, the events q does not select. Older Query Services ignore
// event_type_prefix and payload_filter and answer every event: never trust a gateway to
// have filtered, or one user's scan would return (and delete) everyone's entities.
func (q *query) keep(evs []wireEvent) []wireEvent {
	if q.EntityID == "" && q.EventType == "" && q.EventTypePrefix == "" && len(q.PayloadFilter) == 0 {
		return evs
	}
	out := evs[:0]
	for i := range evs {
		if q.selects(&evs[i]) {
			out = append(out, evs[i])
		}
	}
	return out
}

// selects reports whether ev matches q as Allsource matches it. A payload that is not a
// JSON object is kept, for the caller to report.
func (q *query) selects(ev *wireEvent) bool {
	if q.EntityID != "" && ev.EntityID != q.EntityID || q.EventType != "" && ev.EventType != q.EventType ||
		!strings.HasPrefix(ev.EventType, q.EventTypePrefix) {
		return false
	}
	if len(q.PayloadFilter) == 0 {
		return true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(ev.Payload, &m) != nil || m == nil { // m == nil: payload null
		return true
	}
	for k, want := range q.PayloadFilter {
		var got string
		if v := m[k]; len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &got) != nil || got != want {
			return false
		}
	}
	return true
}

// latest returns the newest event of one entity (nil when it has none) and the entity's
// current version, which is what the next append must expect. With asOf set it returns
// the newest event at or before asOf.
func (c *client) latest(ctx context.Context, entityID string, asOf time.Time, pageSize int) (*wireEvent, uint64, error) {
	if asOf.IsZero() {
		p, err := c.page(ctx, &query{EntityID: entityID, Desc: true, Limit: 1})
		if err != nil {
			return nil, 0, err
		}
		if len(p.Events) == 0 {
			if p.EntityVersion != nil {
				return nil, *p.EntityVersion, nil
			}
			return nil, 0, nil
		}
		ev := &p.Events[0]
		if p.EntityVersion == nil || *p.EntityVersion == ev.Version {
			return ev, ev.Version, nil
		}
		// The gateway ignored order, or the entity moved on (or has events in another
		// tenant): read it whole and take the highest version.
		newest, err := c.newest(ctx, query{EntityID: entityID}, asOf, pageSize)
		if err != nil || newest == nil {
			return newest, *p.EntityVersion, err
		}
		return newest, max(*p.EntityVersion, newest.Version), nil
	}
	newest, err := c.newest(ctx, query{EntityID: entityID, AsOf: asOf}, asOf, pageSize)
	if err != nil || newest == nil {
		return nil, 0, err
	}
	return newest, newest.Version, nil
}

// newest reads every event q selects and returns the one with the highest version,
// ignoring events after asOf (older gateways ignore as_of).
func (c *client) newest(ctx context.Context, q query, asOf time.Time, pageSize int) (*wireEvent, error) {
	var best *wireEvent
	err := c.scan(ctx, q, pageSize, func(evs []wireEvent) error {
		for i := range evs {
			if !asOf.IsZero() && evs[i].Timestamp.After(asOf) {
				continue
			}
			if best == nil || evs[i].Version > best.Version {
				best = &evs[i]
			}
		}
		return nil
	})
	return best, err
}

// health checks GET /health on base.
func (c *client) health(ctx context.Context, base string) error {
	var h struct {
		Status string `json:"status"`
	}
	if err := c.do(ctx, http.MethodGet, base, healthPath, "", nil, &h, ""); err != nil {
		return err
	}
	if h.Status != "healthy" && h.Status != "ok" {
		return fmt.Errorf("allsourceauth: health: status %q", h.Status)
	}
	return nil
}

// readBuf is a pooled answer buffer with the reader that bounds it (pooled with it, so
// that reading an answer allocates nothing of its own).
type readBuf struct {
	bytes.Buffer
	lr io.LimitedReader
}

var bufPool = sync.Pool{New: func() any { return new(readBuf) }}

// jsonValue is the value of the Accept and Content-Type headers, shared by every request
// (header values are only read while a request is sent).
var jsonValue = []string{"application/json"}

// do sends one request with retries and decodes a 2xx answer into out. entityID, when
// set, is scrubbed from error messages (a session's entity id holds its token).
func (c *client) do(ctx context.Context, method, base, path, rawQuery string, body []byte, out any, entityID string) error {
	target := base + path + "?" + rawQuery // one allocation
	if rawQuery == "" {
		target = target[:len(target)-1]
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		retryAfter, err := c.attempt(ctx, method, base, path, target, body, out, entityID)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return c.ctxErr(ctx, method, path, err)
		}
		if retryAfter < 0 || attempt >= c.retries {
			return err
		}
		lastErr = err
		wait := backoff(attempt)
		if retryAfter > wait {
			wait = min(retryAfter, maxRetryAfter)
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "allsource: retrying",
			slog.String("method", method), slog.String("path", path),
			slog.Int("attempt", attempt+1), slog.Duration("wait", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return c.ctxErr(ctx, method, path, lastErr)
		case <-t.C:
		}
	}
}

func (c *client) ctxErr(ctx context.Context, method, path string, last error) error {
	return fmt.Errorf("allsourceauth: %s %s: %w (last attempt: %w)", method, path, ctx.Err(), last)
}

// backoff is capped exponential backoff with full jitter.
func backoff(attempt int) time.Duration {
	ceil := backoffBase << min(attempt, 16)
	if ceil > backoffCap || ceil <= 0 {
		ceil = backoffCap
	}
	return rand.N(ceil) + time.Millisecond
}

// attempt sends the request once. retryAfter is negative when the failure is final, else
// the server's Retry-After (0 when it sent none).
func (c *client) attempt(ctx context.Context, method, base, path, target string, body []byte, out any, entityID string) (retryAfter time.Duration, err error) {
	if dl, ok := ctx.Deadline(); c.timeout > 0 && (!ok || time.Until(dl) > c.timeout) {
		// The caller's deadline is further off than one attempt may take (a nearer one
		// bounds the attempt by itself, with no timer of ours).
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return -1, fmt.Errorf("allsourceauth: %s %s: build request: %w", method, path, stripURL(err))
	}
	if path != healthPath {
		if base == c.core {
			req.Header[c.coreHeader] = c.coreValues
		} else {
			req.Header[c.queryHeader] = c.queryValues
		}
	}
	if body != nil {
		req.Header["Content-Type"] = jsonValue
	}
	req.Header["Accept"] = jsonValue
	resp, err := c.http.Do(req)
	if err != nil {
		// Transport failures (refused, reset, dropped, per-attempt timeout) are retryable.
		return 0, fmt.Errorf("allsourceauth: %s %s: %w", method, path, stripURL(err))
	}
	defer func() {
		drain(resp.Body)
		resp.Body.Close()
	}()
	if resp.StatusCode/100 == 2 {
		if err := c.decode(resp.Body, out); err != nil {
			return -1, fmt.Errorf("allsourceauth: %s %s: %w", method, path, err)
		}
		return 0, nil
	}
	apiErr, conflict := c.apiError(resp, method, path, entityID)
	if conflict != nil {
		return -1, conflict
	}
	switch s := resp.StatusCode; {
	case s == http.StatusRequestTimeout, s == http.StatusTooManyRequests, s >= 500:
		return parseRetryAfter(resp.Header.Get("Retry-After")), apiErr
	default:
		return -1, apiErr
	}
}

// drain reads what is left of an answer, up to maxDrainBytes, so that its connection
// can be reused.
func drain(r io.Reader) {
	buf := bufPool.Get().(*readBuf)
	buf.lr = io.LimitedReader{R: r, N: maxDrainBytes}
	io.Copy(io.Discard, &buf.lr)
	buf.lr.R = nil
	bufPool.Put(buf)
}

func (c *client) decode(r io.Reader, out any) error {
	buf := bufPool.Get().(*readBuf)
	defer func() {
		buf.lr.R = nil
		if buf.Cap() <= 4<<20 {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	buf.Reset()
	buf.lr = io.LimitedReader{R: r, N: maxPageBytes + 1}
	n, err := buf.ReadFrom(&buf.lr)
	if err != nil {
		return fmt.Errorf("read answer: %w", stripURL(err))
	}
	if n > maxPageBytes {
		return fmt.Errorf("answer larger than %d bytes", maxPageBytes)
	}
	if err := json.Unmarshal(buf.Bytes(), out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// apiError reads a bounded error body and decodes the three shapes Allsource sends:
// {"error":"text"}, {"error":{"code","message"}} and plain text. A 409 version_conflict
// is returned as the second value.
func (c *client) apiError(resp *http.Response, method, path, entityID string) (*APIError, error) {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	e := &APIError{StatusCode: resp.StatusCode, Method: method, Path: path}
	var body struct {
		Error           json.RawMessage `json:"error"`
		Message         string          `json:"message"`
		ExpectedVersion *uint64         `json:"expected_version"`
		CurrentVersion  *uint64         `json:"current_version"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Error) > 0 {
		var s string
		var obj struct{ Code, Message string }
		switch {
		case json.Unmarshal(body.Error, &s) == nil:
			if isCode(s) {
				e.Code, e.Message = s, body.Message
			} else {
				e.Message = s
			}
		case json.Unmarshal(body.Error, &obj) == nil:
			e.Code, e.Message = obj.Code, obj.Message
		}
	} else {
		e.Message = strings.TrimSpace(string(raw))
	}
	e.Message = c.scrub(e.Message, entityID)
	if resp.StatusCode == http.StatusConflict && e.Code == "version_conflict" && body.CurrentVersion != nil {
		var exp uint64
		if body.ExpectedVersion != nil {
			exp = *body.ExpectedVersion
		}
		return e, &versionConflict{expected: exp, current: *body.CurrentVersion, api: e}
	}
	return e, nil
}

// refused reports whether err is an answer by which the server refused the request
// outright (a 4xx other than 408 and 429): it certainly did not apply it.
func refused(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500 &&
		ae.StatusCode != http.StatusRequestTimeout && ae.StatusCode != http.StatusTooManyRequests
}

// isCode tells a machine code ("version_conflict") from a sentence.
func isCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// scrub keeps error messages short and free of the API key and the entity id (whose
// session form holds a token).
func (c *client) scrub(msg, entityID string) string {
	if c.apiKey != "" {
		msg = strings.ReplaceAll(msg, c.apiKey, "[redacted]")
	}
	// A key short enough to be an ordinary word is no secret (tokens are long); scrubbing
	// it would mangle the message.
	if i := strings.IndexByte(entityID, ':'); i >= 0 && len(entityID)-i-1 >= minScrubbed {
		msg = strings.ReplaceAll(msg, entityID[i+1:], "[redacted]")
	}
	if len(msg) > maxMessage { // after scrubbing, so no secret is cut in half and kept
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

const (
	minScrubbed = 16  // entity keys at least this long are scrubbed from server messages
	maxMessage  = 512 // server messages are cut to this many bytes
)

// stripURL drops the *url.Error wrapper, whose text holds the full URL (and so the query
// string, which may carry a token or an email), keeping the cause for errors.Is.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
