package allsourceauth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/seed-a452aa33/allsourceauth"
	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

func TestSmoke(t *testing.T) {
	srv := allsourcetest.NewServer()
	defer srv.Close()
	a, err := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	n0 := srv.Requests()
	u, err := a.CreateUser(ctx, allsourceauth.CreateUser{Email: "Ann@x.io", Username: "ann", Name: "Ann"})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("create reqs", srv.Requests()-n0)
	n0 = srv.Requests()
	got, err := a.GetUserByEmail(ctx, "ann@X.io")
	if err != nil || got.ID != u.ID {
		t.Fatal(err, got)
	}
	t.Log("get by email reqs", srv.Requests()-n0)
	_, err = a.CreateUser(ctx, allsourceauth.CreateUser{Email: "ann@x.io"})
	if !errors.Is(err, allsourceauth.ErrConflict) {
		t.Fatal("want conflict", err)
	}
	t.Log(err)
	u2, err := a.UpdateUser(ctx, u.ID, allsourceauth.UpdateUser{Email: allsourceauth.Ptr("bob@x.io")})
	if err != nil || u2.Email != "bob@x.io" {
		t.Fatal(err)
	}
	if _, err := a.GetUserByEmail(ctx, "ann@x.io"); !errors.Is(err, allsourceauth.ErrNotFound) {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	b, _ := allsourceauth.New(srv.URL, srv.QueryURL, srv.APIKey)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ad := a
			if i%2 == 1 {
				ad = b
			}
			_, err := ad.CreateUser(ctx, allsourceauth.CreateUser{Email: "race@x.io"})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, allsourceauth.ErrConflict) {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 {
		t.Fatal("wins", wins)
	}
	s, err := a.CreateSession(ctx, allsourceauth.CreateSession{UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	n0 = srv.Requests()
	if _, err := a.GetSession(ctx, s.Token); err != nil {
		t.Fatal(err)
	}
	t.Log("get session reqs", srv.Requests()-n0)
	v, err := a.CreateVerification(ctx, allsourceauth.CreateVerification{Identifier: "e", Value: "v", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	wins = 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := a.ConsumeVerification(ctx, "e", "v")
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
				if got.ID != v.ID {
					t.Error("wrong id")
				}
			} else if !errors.Is(err, allsourceauth.ErrNotFound) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatal("consume wins", wins)
	}
	if err := a.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Restore(ctx, allsourceauth.KindUser, u.ID); err != nil {
		t.Fatal(err)
	}
	h, err := a.History(ctx, allsourceauth.KindUser, u.ID)
	for _, e := range h {
		t.Log(e.Type, e.Version, e.Deleted)
	}
	users, total, err := a.ListUsers(ctx, allsourceauth.ListUsersParams{})
	t.Log(len(users), total, err)
}
