package explore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"testing"
)

func fileHash(t *testing.T, path string) (int64, string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, _ := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil))
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
