package cogen

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

func TestSameSeedSameBytesAndRealisticShares(t *testing.T) {
	var a, b bytes.Buffer
	if _, err := Write(&a, Options{Events: 20000, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	Write(&b, Options{Events: 20000, Seed: 9})
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same seed, different bytes")
	}
	rows, err := csv.NewReader(bytes.NewReader(a.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != Header || len(rows) != 20001 {
		t.Fatalf("header %v, %d rows", rows[0], len(rows))
	}
	milano, emptyTime := 0, 0
	for _, r := range rows[1:] {
		if r[7] == "MILANO" {
			milano++
		}
		if r[6] == "" {
			emptyTime++
		}
	}
	if share := float64(milano) / 20000; share < 0.36 || share > 0.44 {
		t.Errorf("Milano share = %.2f, want about 0.40", share)
	}
	if emptyTime == 0 {
		t.Error("no empty working time: a quirk of the real data is missing")
	}
}
