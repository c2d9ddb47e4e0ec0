package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookSecret is Sondrio's webhook secret (Standard Webhooks: whsec_ and base64).
const hookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// hookReceiver is an observatory's webhook endpoint: it verifies every notice with the Standard Webhooks
// library, keeps what it got, and fails the next requests when told to.
type hookReceiver struct {
	secret string
	mu     sync.Mutex
	got    []hookMessage
	fail   int // the next requests answered 503; -1 fails every one
}

type hookMessage struct {
	ID       string
	Verified error
	Type     string
	Data     map[string]any
	Failed   bool
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	wh, err := standardwebhooks.NewWebhook(h.secret)
	if err == nil {
		err = wh.Verify(body, r.Header)
	}
	var msg struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	_ = json.Unmarshal(body, &msg)
	h.mu.Lock()
	defer h.mu.Unlock()
	m := hookMessage{ID: r.Header.Get("webhook-id"), Verified: err, Type: msg.Type, Data: msg.Data}
	if h.fail != 0 {
		if h.fail > 0 {
			h.fail--
		}
		m.Failed = true
		h.got = append(h.got, m)
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	h.got = append(h.got, m)
	if err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// failNext makes the next n requests fail (-1: all of them until told otherwise).
func (h *hookReceiver) failNext(n int) {
	h.mu.Lock()
	h.fail = n
	h.mu.Unlock()
}

// messages returns what the endpoint got for a release.
func (h *hookReceiver) messages(version string) []hookMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookMessage
	for _, m := range h.got {
		if m.Data["version"] == version {
			out = append(out, m)
		}
	}
	return out
}

// all returns every message the endpoint got.
func (h *hookReceiver) all() []hookMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookMessage(nil), h.got...)
}
