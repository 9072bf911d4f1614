package allsourcetest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/seed-a452aa33/allsourceauth/allsourcetest"
)

// A test server answers like Allsource; faults make it misbehave on cue.
func ExampleServer_Inject() {
	srv := allsourcetest.NewServer()
	defer srv.Close()

	post := func() string {
		body := `{"entity_id":"auth-user:1","event_type":"auth.user.created","payload":{"id":"1"},"expected_version":0}`
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+srv.APIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "transport error"
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		}
		return "200"
	}

	srv.Inject(allsourcetest.Fault{Method: http.MethodPost, Path: "/api/v1/events", Status: 503, Body: `{"error":"Queue full: try again"}`})
	fmt.Println(post()) // the fault answers
	fmt.Println(post()) // the append lands
	fmt.Println(post()) // expected_version 0 again: the entity exists now
	fmt.Println(len(srv.Events()), "event stored;", srv.Requests(), "requests served")
	// Output:
	// 503 {"error":"Queue full: try again"}
	// 200
	// 409 {"error":"version_conflict","expected_version":0,"current_version":1}
	// 1 event stored; 3 requests served
}
