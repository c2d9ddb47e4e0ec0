package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// A notice verifies with the reference library; an answer other than 2xx, or a redirect, is a failure.
func TestSendSignsPerStandardWebhooks(t *testing.T) {
	wh, _ := standardwebhooks.NewWebhook(secret)
	status := http.StatusNoContent
	var verr error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verr = wh.Verify(body, r.Header)
		if status == http.StatusFound {
			http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", status)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	s := NewSender(5 * time.Second)
	body := []byte(`{"type":"release.published","data":{"version":"1.2.0"}}`)
	if err := s.Send(context.Background(), srv.URL, secret, "msg_1-2-0_milano", body, time.Now()); err != nil || verr != nil {
		t.Fatalf("send: %v; the receiver's verification: %v", err, verr)
	}
	for _, st := range []int{http.StatusInternalServerError, http.StatusFound} {
		status = st
		if err := s.Send(context.Background(), srv.URL, secret, "msg_1-2-0_milano", body, time.Now()); !errors.Is(err, ErrRejected) {
			t.Errorf("answer %d: %v, want ErrRejected", st, err)
		}
	}
	if err := s.Send(context.Background(), srv.URL, "not-a-secret!", "m", body, time.Now()); err == nil {
		t.Error("a malformed secret was accepted")
	}
}
