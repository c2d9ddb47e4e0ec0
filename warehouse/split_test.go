package warehouse

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/cogen"
)

func split(t *testing.T, data string, size int64) []string {
	t.Helper()
	dir := t.TempDir()
	out := make(chan string, 100)
	if err := SplitCSV(context.Background(), strings.NewReader(data), dir, size, out); err != nil {
		t.Fatal(err)
	}
	close(out)
	var chunks []string
	for p := range out {
		b, _ := os.ReadFile(p)
		chunks = append(chunks, string(b))
	}
	return chunks
}

func TestSplitCSVKeepsHeaderLinesAndQuotes(t *testing.T) {
	data := "A,B\n1,\"x\ny\"\n2,z\n3,\"w,\"\"q\"\"\"\n4,k\n"
	chunks := split(t, data, 6)
	var joined strings.Builder
	for i, c := range chunks {
		if !strings.HasPrefix(c, "A,B\n") {
			t.Fatalf("chunk %d lacks the header: %q", i, c)
		}
		if strings.Count(c, `"`)%2 != 0 {
			t.Errorf("chunk %d cuts a quoted field: %q", i, c)
		}
		joined.WriteString(strings.TrimPrefix(c, "A,B\n"))
	}
	if got := "A,B\n" + joined.String(); got != data {
		t.Errorf("chunks rejoin to %q, want %q", got, data)
	}
	if len(chunks) < 3 {
		t.Errorf("%d chunks, want several", len(chunks))
	}
}

func TestSplitHarmonizeEqualsWhole(t *testing.T) {
	var buf bytes.Buffer
	cogen.Write(&buf, cogen.Options{Events: 30000, Seed: 5})
	dir := t.TempDir()
	whole := dir + "/whole.csv"
	os.WriteFile(whole, buf.Bytes(), 0o644)
	db := openDB(t)
	ev, fl, st := harmonizeCO(t, db, whole, "attivazione", dir)

	chunks := make(chan string, 100)
	if err := SplitCSV(context.Background(), bytes.NewReader(buf.Bytes()), t.TempDir(), 1<<20, chunks); err != nil {
		t.Fatal(err)
	}
	close(chunks)
	out, err := db.HarmonizeCOStream(context.Background(), COStream{Chunks: chunks, EventType: "attivazione",
		RawSHA256: strings.Repeat("a", 64), RefDate: fetched, FlowsOut: dir + "/flows-chunked.parquet",
		EventsPath: func(i int) string { return dir + "/part-" + string(rune('a'+i)) + ".parquet" }})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.EventParts) < 4 || out.Stats.Events != st.Events {
		t.Fatalf("%d parts, %d events; want several parts and %d events", len(out.EventParts), out.Stats.Events, st.Events)
	}
	list := "['" + strings.Join(out.EventParts, "', '") + "']"
	a := queryRows(t, db.SQL(), "SELECT * FROM read_parquet('"+ev+"')")
	b := queryRows(t, db.SQL(), "SELECT * FROM read_parquet("+list+")")
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Error("the parts in order differ from the whole export's events")
	}
	fa := queryRows(t, db.SQL(), "SELECT * FROM read_parquet('"+fl+"') ORDER BY ALL")
	fb := queryRows(t, db.SQL(), "SELECT * FROM read_parquet('"+dir+"/flows-chunked.parquet"+"') ORDER BY ALL")
	if strings.Join(fa, "\n") != strings.Join(fb, "\n") {
		t.Error("flows differ")
	}
}
