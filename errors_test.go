package allsourceauth_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
)

func TestAPIErrorFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  allsourceauth.APIError
		want string
	}{
		{
			allsourceauth.APIError{StatusCode: 409, Code: "version_conflict", Message: "expected 1", Method: "POST", Path: "/api/v1/events"},
			"allsource: POST /api/v1/events: 409 version_conflict: expected 1",
		},
		{
			allsourceauth.APIError{StatusCode: 400, Message: "Invalid input: x", Method: "GET", Path: "/api/v1/events/query"},
			"allsource: GET /api/v1/events/query: 400: Invalid input: x",
		},
		{
			allsourceauth.APIError{StatusCode: 401, Code: "unauthorized", Method: "GET", Path: "/api/v1/events/query"},
			"allsource: GET /api/v1/events/query: 401 unauthorized",
		},
		{
			allsourceauth.APIError{StatusCode: 503, Method: "GET", Path: "/health"},
			"allsource: GET /health: 503",
		},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.want, tc.err.Error())
			var err error = fmt.Errorf("wrapped: %w", &tc.err)
			var ae *allsourceauth.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.err.StatusCode, ae.StatusCode)
		})
	}
}

func TestSentinelsDistinct(t *testing.T) {
	t.Parallel()
	all := []error{allsourceauth.ErrNotFound, allsourceauth.ErrConflict, allsourceauth.ErrInvalidInput, allsourceauth.ErrReadOnly}
	for i, a := range all {
		for j, b := range all {
			assert.Equal(t, i == j, errors.Is(a, b), "%v vs %v", a, b)
		}
	}
	assert.Equal(t, "allsourceauth: not found", allsourceauth.ErrNotFound.Error())
	assert.Equal(t, "allsourceauth: conflict", allsourceauth.ErrConflict.Error())
	assert.Equal(t, "allsourceauth: invalid input", allsourceauth.ErrInvalidInput.Error())
	assert.Equal(t, "allsourceauth: read-only view", allsourceauth.ErrReadOnly.Error())
}

// Errors name the operation and the entity kind, and still match the sentinel.
func TestErrorsNameOperation(t *testing.T) {
	t.Parallel()
	a, _ := newStore(t)
	ctx := t.Context()

	_, err := a.UpdateUser(ctx, "nobody", allsourceauth.UpdateUser{Name: allsourceauth.Ptr("x")})
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	assert.Equal(t, "allsourceauth: update user: not found", err.Error())

	_, err = a.GetSession(ctx, "session_nope")
	require.ErrorIs(t, err, allsourceauth.ErrNotFound)
	assert.Equal(t, "allsourceauth: get session: not found", err.Error())

	_, err = a.CreateSession(ctx, allsourceauth.CreateSession{})
	require.ErrorIs(t, err, allsourceauth.ErrInvalidInput)
	assert.Contains(t, err.Error(), "allsourceauth: create session: invalid input")

	_, err = a.AsOf(entT1).CreateUser(ctx, allsourceauth.CreateUser{Email: "x@example.com"})
	require.ErrorIs(t, err, allsourceauth.ErrReadOnly)
	assert.Contains(t, err.Error(), "create user")
}
