package allsourceauth

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Every error the package returns wraps one of them, an *APIError, a
// transport error, or the caller's context error; test with errors.Is and errors.As.
var (
	// ErrNotFound: the entity is absent — never created, deleted, expired where the
	// method says expired ones are invisible, or already consumed.
	ErrNotFound = errors.New("allsourceauth: not found")
	// ErrConflict: a unique value is held by another live entity, an explicit ID is
	// taken, or concurrent writers kept winning past the retry bound.
	ErrConflict = errors.New("allsourceauth: conflict")
	// ErrInvalidInput: an argument was rejected before any request was sent.
	ErrInvalidInput = errors.New("allsourceauth: invalid input")
	// ErrReadOnly: a write was attempted on a view returned by Adapter.AsOf.
	ErrReadOnly = errors.New("allsourceauth: read-only view")
)

// APIError is a non-2xx answer from Allsource. It is returned (wrapped) after retries of
// retryable statuses ran out, or at once for other 4xx answers. Its text holds the method,
// the URL path and the server's message; never the query string, a header or the API key.
type APIError struct {
	StatusCode int
	Code       string // machine code where Allsource sends one, e.g. "version_conflict"
	Message    string
	Method     string
	Path       string // URL path only: never the query string, never a header
}

// Error formats the answer as "allsource: METHOD PATH: STATUS code: message".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("allsource: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Code != "" {
		b.WriteByte(' ')
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// opError names the operation and entity kind of a failure, so that the text reads
// "allsourceauth: update user: not found" while errors.Is still sees the sentinel.
type opError struct {
	op  string // "update user"
	err error
}

func (e *opError) Error() string {
	return "allsourceauth: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "allsourceauth: ")
}

func (e *opError) Unwrap() error { return e.err }

// wrapOp attaches an operation name to err; nil stays nil and an already named error
// keeps its first (innermost) name.
func wrapOp(op string, err error) error {
	if err == nil {
		return nil
	}
	var oe *opError
	if errors.As(err, &oe) {
		return err
	}
	return &opError{op: op, err: err}
}

// invalid returns an ErrInvalidInput naming what was wrong.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, args...)...)
}
