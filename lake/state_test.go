package lake

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/devstack/devstacktest"
)

// Writers that change the same state at once all land: none overwrites another's change.
func TestUpdateStateIsACompareAndSwap(t *testing.T) {
	l := New(devstacktest.Bucket(t, "lake-state"))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- l.UpdateState(ctx, "istat", "x", func(st *State, ok bool) error {
				st.Source, st.Dataset = "istat", "x"
				st.AddHistory(Chunk{From: fmt.Sprint(2010 + i), To: fmt.Sprint(2010 + i)})
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	st, ok, err := l.State(ctx, "istat", "x")
	if err != nil || !ok || len(st.History) != 6 {
		t.Fatalf("state %+v, %v: want the 6 chunks of 6 writers", st.History, err)
	}
}
