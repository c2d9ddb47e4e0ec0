package activities

import (
	"fmt"
	"testing"
)

func TestSplitPeriods(t *testing.T) {
	for _, c := range []struct {
		from, to, chunk, want string
	}{
		{"2017-01", "2019-12", "", "[[2017 2017] [2018 2018] [2019 2019]]"},
		{"2017", "2018", "year", "[[2017 2017] [2018 2018]]"},
		{"2017-03", "2018-06", "year", "[[2017-03 2017-12] [2018-01 2018-06]]"},
		{"2017-Q2", "2017-Q3", "quarter", "[[2017-Q2 2017-Q2] [2017-Q3 2017-Q3]]"},
		{"2017-02", "2017-07", "quarter", "[[2017-02 2017-03] [2017-Q2 2017-Q2] [2017-07 2017-07]]"},
		{"2017-11", "2018-01", "month", "[[2017-11 2017-11] [2017-12 2017-12] [2018-01 2018-01]]"},
	} {
		got, err := SplitPeriods(c.from, c.to, c.chunk)
		if err != nil || fmt.Sprint(pairs(got)) != c.want {
			t.Errorf("SplitPeriods(%s, %s, %s) = %v, %v; want %s", c.from, c.to, c.chunk, got, err, c.want)
		}
	}
	for _, bad := range [][3]string{{"2019", "2017", ""}, {"2017-13", "2018", ""}, {"17", "2018", ""}, {"2017", "2018", "week"}, {"1900", "2018", ""}, {"2017-Q5", "2018", ""}} {
		if got, err := SplitPeriods(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("SplitPeriods%v = %v, want an error", bad, got)
		}
	}
}

func pairs(ps []Period) [][2]string {
	out := make([][2]string, len(ps))
	for i, p := range ps {
		out[i] = [2]string{p.From, p.To}
	}
	return out
}
