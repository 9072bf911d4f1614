package allsourcetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// Listener names for [Fault.Listener].
const (
	// ListenerCore selects the Allsource Core listener ([Server.URL]).
	ListenerCore = "core"
	// ListenerQuery selects the Query Service listener ([Server.QueryURL]).
	ListenerQuery = "query"
)

// Fault describes a misbehaviour the server applies to matching requests.
// Faults are kept in a FIFO list; each request is matched against the first
// fault whose Method, Path and Listener match, and that fault's remaining
// count is decremented (the fault is removed when it reaches zero).
//
// What happens to a matched request:
//   - Delay is waited first (the wait ends early if the request's context is
//     done or the server is closed, and then no answer is written).
//   - Without AfterApply: Drop closes the connection with no answer; else a
//     non-zero Status is answered with Body and Header without serving the
//     request; else (a Delay-only fault) the request is served normally.
//   - With AfterApply: the request is served first (so an append lands), the
//     real answer is discarded, and then Drop closes the connection or Status
//     is answered with Body and Header. With neither, the real answer is sent.
type Fault struct {
	Method     string        // "" matches any method
	Path       string        // "" matches any path; else the exact URL path, e.g. "/api/v1/events"
	Times      int           // how many matching requests it hits; 0 means 1
	Status     int           // answer this status (with Body) instead of serving
	Body       string        // body of the injected answer: application/json if it starts with "{", else text/plain
	Header     http.Header   // extra headers on the injected answer; a 429 without Retry-After gets "Retry-After: 1"
	Delay      time.Duration // wait this long first (a slow server)
	Drop       bool          // close the connection without an answer
	AfterApply bool          // serve the request (an append lands), then Drop or answer Status
	Listener   string        // "" matches both listeners; "core" or "query" only that one
}

// pendingFault is a queued fault and how many hits it has left.
type pendingFault struct {
	f    Fault
	left int
}

// Inject queues a fault. See [Fault] for matching and effects.
func (s *Server) Inject(f Fault) {
	n := f.Times
	if n <= 0 {
		n = 1
	}
	s.faultMu.Lock()
	s.faults = append(s.faults, &pendingFault{f: f, left: n})
	s.faultMu.Unlock()
}

// takeFault finds the first queued fault matching r on listener, uses up one
// of its hits and returns it.
func (s *Server) takeFault(listener string, r *http.Request) (Fault, bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, pf := range s.faults {
		f := &pf.f
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.Path != "" && f.Path != r.URL.Path {
			continue
		}
		if f.Listener != "" && f.Listener != listener {
			continue
		}
		pf.left--
		if pf.left <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return pf.f, true
	}
	return Fault{}, false
}

// serveWithFaults counts the request, applies the first matching fault and
// otherwise serves it normally.
func (s *Server) serveWithFaults(listener string, w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	f, ok := s.takeFault(listener, r)
	if !ok {
		s.serve(listener, w, r)
		return
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closed:
			t.Stop()
			return
		}
	}
	if f.AfterApply {
		rec := httptest.NewRecorder()
		s.serve(listener, rec, r)
		switch {
		case f.Drop:
			drop(w, r)
		case f.Status != 0:
			writeFault(w, &f)
		default:
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		}
		return
	}
	switch {
	case f.Drop:
		drop(w, r)
	case f.Status != 0:
		writeFault(w, &f)
	default:
		s.serve(listener, w, r)
	}
}

// writeFault answers the fault's Status, Body and Header.
func writeFault(w http.ResponseWriter, f *Fault) {
	ct := "text/plain; charset=utf-8"
	if strings.HasPrefix(f.Body, "{") {
		ct = "application/json"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	for k, v := range f.Header {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
	}
	if f.Status == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "1") // as Allsource's rate limiter does
	}
	h.Set("Content-Length", strconv.Itoa(len(f.Body)))
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}

// drop closes the connection without writing an answer.
func drop(w http.ResponseWriter, r *http.Request) {
	// Read what is left of the body so the client has finished sending and
	// sees a clean close rather than a failed write.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 2*maxBody))
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
