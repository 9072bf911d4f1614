package allsourceauth_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// A write that Allsource refused outright (a 4xx) certainly did not land, so the claims
// taken for it are given back at once: the email is free again without any fencing.
func TestRefusedCreateGivesClaimsBack(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t)
	ctx := t.Context()

	// 3 MiB of metadata is over Allsource's 2 MiB body limit: 413, not retried.
	big := map[string]any{"blob": strings.Repeat("x", 3<<20)}
	_, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "Big@Example.com", Metadata: big})
	var ae *allsourceauth.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, http.StatusRequestEntityTooLarge, ae.StatusCode)
	require.Empty(t, eventsOfType(srv, "auth.user.created"))

	claim := claimID("", "email", "big@example.com")
	require.Equal(t, "auth.claim.released", lastEvent(t, srv, claim).EventType)
	require.Empty(t, eventsWhere(srv, func(ev allsourcetest.Event) bool { return strings.HasSuffix(ev.EventType, ".fenced") }))

	u, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "big@example.com"})
	require.NoError(t, err)
	got, err := a.GetUserByEmail(ctx, "BIG@example.com")
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
}

// A write whose fate is unknown (the answer was lost and retries ran out) keeps its
// claims: giving them back could free a value the write did take.
func TestUnknownCreateKeepsClaims(t *testing.T) {
	t.Parallel()
	a, srv := newStore(t, allsourceauth.WithRetries(0))
	ctx := t.Context()
	// The first append (the email claim) goes through; the answer to the second (the
	// user) is lost after it landed.
	srv.Inject(allsourcetest.Fault{Method: http.MethodPost, Path: "/api/v1/events", Delay: time.Nanosecond})
	srv.Inject(allsourcetest.Fault{Method: http.MethodPost, Path: "/api/v1/events", AfterApply: true, Drop: true})
	_, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "lost@example.com"})
	require.Error(t, err)
	claim := claimID("", "email", "lost@example.com")
	require.Equal(t, "auth.claim.acquired", lastEvent(t, srv, claim).EventType)
	require.Len(t, eventsOfType(srv, "auth.user.created"), 1, "the user append landed")

	// The user did land and holds the email: a second sign-up is refused.
	_, err = a.CreateUser(ctx, allsourceauth.CreateUser{Email: "lost@example.com"})
	require.ErrorIs(t, err, allsourceauth.ErrConflict)
}
