package allsourceauth

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

func TestDefaultHTTPClientPoolsConnections(t *testing.T) {
	t.Parallel()
	a, err := New("http://core.invalid", "http://query.invalid", "ask_x")
	require.NoError(t, err)
	tr, ok := a.c.http.Transport.(*http.Transport)
	require.True(t, ok, "the default client has its own *http.Transport")
	assert.NotSame(t, http.DefaultTransport, tr, "not the shared default transport")
	assert.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 64)
	assert.GreaterOrEqual(t, tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
	assert.False(t, tr.DisableKeepAlives)
	assert.Zero(t, a.c.http.Timeout, "timeouts are per attempt, not on the client")

	b, err := New("http://core.invalid", "http://query.invalid", "ask_x")
	require.NoError(t, err)
	assert.NotSame(t, a.c.http, b.c.http)
}

func TestDefaultOptionValues(t *testing.T) {
	t.Parallel()
	a, err := New("http://core.invalid/", "http://query.invalid//", "ask_x")
	require.NoError(t, err)
	assert.Equal(t, 3, a.c.retries)
	assert.Equal(t, int64(10e9), int64(a.c.timeout))
	assert.Equal(t, 500, a.pageSize)
	assert.Empty(t, a.c.tenant)
	assert.Equal(t, "http://core.invalid", a.c.core)
	assert.Equal(t, "http://query.invalid", a.c.query)
	assert.NotNil(t, a.log)
}

// cliRepeat is an endless reader of one byte: an oversized answer without allocating it.
type cliRepeat byte

func (r cliRepeat) Read(p []byte) (int, error) {
	chunk := bytes.Repeat([]byte{byte(r)}, min(len(p), 64<<10))
	n := 0
	for n < len(p) {
		n += copy(p[n:], chunk)
	}
	return n, nil
}

func TestDecodeRefusesOversizedPage(t *testing.T) {
	t.Parallel()
	c := &client{}
	var p queryPage
	// Valid JSON followed by endless whitespace: decode must stop at the limit (not read
	// forever) and refuse the answer for its size (the bytes it read parse fine).
	body := io.MultiReader(strings.NewReader(`{"events":[]}`), cliRepeat(' '))
	err := c.decode(body, &p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "larger than")
	assert.Nil(t, p.Events)
}

func TestDecodeAcceptsSmallPage(t *testing.T) {
	t.Parallel()
	c := &client{}
	var p queryPage
	require.NoError(t, c.decode(strings.NewReader(`{"events":[],"count":0,"total_count":0,"has_more":false}`), &p))
	assert.Empty(t, p.Events)
	assert.Nil(t, p.EntityVersion)
}

// A 409 version_conflict to an append is ErrConflict and still an *APIError.
func TestAppendVersionConflict(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()
	ev := func() *newEvent {
		return &newEvent{EntityID: "auth-test:x", EventType: "auth.test.created", Payload: []byte(`{"id":"x"}`)}
	}
	res, err := a.c.append(ctx, ev())
	require.NoError(t, err)
	assert.Equal(t, uint64(1), res.Version)
	assert.NotEmpty(t, res.EventID)
	assert.False(t, res.Timestamp.IsZero())

	before := srv.Requests()
	_, err = a.c.append(ctx, ev()) // expects 0, the entity is at 1
	require.ErrorIs(t, err, ErrConflict)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusConflict, ae.StatusCode)
	assert.Equal(t, "version_conflict", ae.Code)
	assert.Equal(t, http.MethodPost, ae.Method)
	assert.Equal(t, appendPath, ae.Path)
	var vc *versionConflict
	require.ErrorAs(t, err, &vc)
	assert.Equal(t, uint64(0), vc.expected)
	assert.Equal(t, uint64(1), vc.current)
	assert.Equal(t, int64(1), srv.Requests()-before, "a version conflict is not retried by the client")
}

// A follower's 409 read_only is not a version conflict.
func TestAppendReadOnlyFollowerIsNotConflict(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	srv.Inject(allsourcetest.Fault{Method: http.MethodPost, Path: appendPath, Status: http.StatusConflict,
		Body: `{"error":"read_only","message":"This node is a read-only follower"}`})
	_, err := a.c.append(t.Context(), &newEvent{EntityID: "auth-test:follower-write-0001", EventType: "auth.test.created", Payload: []byte(`{}`)})
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrConflict))
	var vc *versionConflict
	assert.False(t, errors.As(err, &vc))
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "read_only", ae.Code)
	assert.Equal(t, "This node is a read-only follower", ae.Message)
	assert.Empty(t, srv.Events())
}

func TestQueryEncodeSendsOnlySetFields(t *testing.T) {
	t.Parallel()
	raw, err := (&query{}).encode("")
	require.NoError(t, err)
	assert.Empty(t, raw)

	raw, err = (&query{EntityID: "auth-user:a&b", PayloadFilter: map[string]string{"email": `a+b&c=d"é"`}, Desc: true, Limit: 1, Offset: 3}).encode("acme")
	require.NoError(t, err)
	assert.NotContains(t, raw, "a&b")
	assert.Contains(t, raw, "order=desc")
	assert.Contains(t, raw, "tenant_id=acme")
	assert.Contains(t, raw, "limit=1")
	assert.Contains(t, raw, "offset=3")
}

func TestIsCode(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"version_conflict": true, "read_only": true, "unauthorized": true,
		"": false, "Invalid input: x": false, "Queue full": false, strings.Repeat("a", 65): false,
	} {
		assert.Equal(t, want, isCode(s), s)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	assert.Zero(t, parseRetryAfter(""))
	assert.Zero(t, parseRetryAfter("soon"))
	assert.Zero(t, parseRetryAfter("-5"))
	assert.Equal(t, int64(2e9), int64(parseRetryAfter(" 2 ")))
	assert.Zero(t, parseRetryAfter("Mon, 02 Jan 2006 15:04:05 GMT"), "a date in the past")
}

func TestBackoffBoundedAndPositive(t *testing.T) {
	t.Parallel()
	for attempt := range 80 {
		d := backoff(attempt)
		assert.Positive(t, d)
		assert.LessOrEqual(t, d, backoffCap+1e6)
	}
}
