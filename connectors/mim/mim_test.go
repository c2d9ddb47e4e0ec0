package mim

import (
	"bytes"
	"context"
	"github.com/osservatorio-lombardia/osservatorio/connectors/connectorstest"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// catalogue serves the test files as the MIM portal does: the dataset pages and the files under leaf/.
func catalogue(t *testing.T, files map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/leaf/" {
			http.ServeFile(w, r, "testdata/page-"+r.URL.Query().Get("datasetId")+".html")
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/leaf/")
		if f, ok := files[name]; ok {
			http.ServeFile(w, r, f)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

var (
	students = connectors.Dataset{Source: Name, ID: "alunni_corso_eta", Code: "ALUCORSOETASTA", Resource: "SCUANAGRAFESTAT"}
	schools  = connectors.Dataset{Source: Name, ID: "scuole_statali", Code: "SCUANAGRAFESTAT"}
)

func TestStudentsAreFoundJoinedAndSummedPerProvince(t *testing.T) {
	srv := catalogue(t, map[string]string{
		"ALUCORSOETASTA20242520240831.csv":  "testdata/ALUCORSOETASTA20242520240831.csv",
		"SCUANAGRAFESTAT20242520240901.csv": "testdata/SCUANAGRAFESTAT20242520240901.csv",
	})
	s := New(srv.URL, httpfetch.New(httpfetch.Options{}))
	sig, err := s.Check(context.Background(), students)
	if err != nil {
		t.Fatal(err)
	}
	// The newest school year on each page, by name, never a guessed URL.
	if sig.Token != "ALUCORSOETASTA20242520240831.csv+SCUANAGRAFESTAT20242520240901.csv" {
		t.Errorf("signal %q", sig.Token)
	}
	sink := &connectorstest.MemSink{}
	if _, err := s.Download(context.Background(), students, connectors.Cursor{}, sink); err != nil {
		t.Fatal(err)
	}
	if len(sink.URLs) != 2 || s.Inspect(students, 200, nil, sink.Buf.Bytes()) != nil {
		t.Fatalf("download: %v", sink.URLs)
	}
	first := append([]byte(nil), sink.Buf.Bytes()...)
	again := &connectorstest.MemSink{}
	s.Download(context.Background(), students, connectors.Cursor{}, again)
	if !bytes.Equal(first, again.Buf.Bytes()) {
		t.Error("the same files made a different zip")
	}
	total := map[string]float64{}
	notAvailable := 0
	err = s.Parse(context.Background(), students, bytes.NewReader(first), func(o connectors.Observation) error {
		if o.Period != "2024-25" || o.Freq != "SY" || !strings.HasPrefix(o.Breakdown, "anno_corso=") || !strings.HasPrefix(o.Age, "Y") {
			t.Errorf("observation %+v", o)
		}
		if o.Value == nil {
			notAvailable++
			return nil
		}
		total[o.Geo] += *o.Value
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(total) != 5 || total["001"] != 0 || total["108"] == 0 {
		t.Errorf("students per province: %v (want the five Lombardy provinces, Torino out, Monza as 108)", total)
	}
	want := sumOf(t, "testdata/ALUCORSOETASTA20242520240831.csv", func(code string) bool { return !strings.HasPrefix(code, "TO") })
	var got float64
	for _, v := range total {
		got += v
	}
	if got != want {
		t.Errorf("students summed %v, the file's Lombardy rows hold %v", got, want)
	}
	if notAvailable != 0 {
		t.Errorf("%d keys only Non Disponibile", notAvailable)
	}
}

func sumOf(t *testing.T, path string, keep func(code string) bool) float64 {
	b, _ := os.ReadFile(path)
	var sum float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\r\n")[1:] {
		f := strings.Split(line, ",")
		var v float64
		if keep(f[1]) && f[5] != "Non Disponibile" {
			for _, c := range f[5] {
				v = v*10 + float64(c-'0')
			}
		}
		sum += v
	}
	return sum
}

func TestRegistryCountsSchools(t *testing.T) {
	f, _ := os.Open("testdata/SCUANAGRAFESTAT20242520240901.csv")
	defer f.Close()
	var n float64
	err := New("", nil).Parse(context.Background(), schools, f, func(o connectors.Observation) error {
		n += *o.Value
		return nil
	})
	if err != nil || n != 30 {
		t.Errorf("%v schools counted (%v), want 30 in Lombardy", n, err)
	}
	// The real registry file (TN/BZ/AO) reads cleanly and holds no Lombardy school.
	real, _ := os.Open("testdata/SCUANAAUTPAR20222320220901.csv")
	defer real.Close()
	count := 0
	if err := New("", nil).Parse(context.Background(), schools, real, func(connectors.Observation) error { count++; return nil }); err != nil || count != 0 {
		t.Errorf("real file: %d observations, %v", count, err)
	}
}

func TestMismatchedRegistryAndBadPagesAreRejected(t *testing.T) {
	// Students joined to a registry of other schools: most rows unmatched.
	srv := catalogue(t, map[string]string{
		"ALUCORSOETASTA20242520240831.csv":  "testdata/ALUCORSOETASTA20242520240831.csv",
		"SCUANAGRAFESTAT20242520240901.csv": "testdata/SCUANAAUTPAR20222320220901.csv",
	})
	s := New(srv.URL, httpfetch.New(httpfetch.Options{}))
	if _, err := s.Check(context.Background(), students); err != nil {
		t.Fatal(err)
	}
	sink := &connectorstest.MemSink{}
	if _, err := s.Download(context.Background(), students, connectors.Cursor{}, sink); err != nil {
		t.Fatal(err)
	}
	err := s.Parse(context.Background(), students, bytes.NewReader(sink.Buf.Bytes()), func(connectors.Observation) error { return nil })
	if !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "registry does not know") {
		t.Errorf("%v", err)
	}
	// A page that lists no file of the dataset.
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>Manutenzione</html>")) }))
	defer empty.Close()
	if _, err := New(empty.URL, httpfetch.New(httpfetch.Options{})).Check(context.Background(), schools); !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "lists no SCUANAGRAFESTAT file") {
		t.Errorf("%v", err)
	}
	// A file that is an HTML page.
	if err := s.Inspect(schools, 200, nil, []byte("<!DOCTYPE html>")); !fault.Is(err, fault.BadInput) {
		t.Errorf("%v", err)
	}
}

func TestAgeClass(t *testing.T) {
	for in, want := range map[string]string{"6 anni": "Y6", "14 anni": "Y14", "fino a 5 anni": "Y_LT6", "oltre 19 anni": "Y_GE20",
		"20 anni e oltre": "Y_GE20", "< 6 anni": "Y_LT6", "sconosciuta": "sconosciuta"} {
		if got := ageClass(in); got != want {
			t.Errorf("ageClass(%q) = %q, want %q", in, got, want)
		}
	}
}
